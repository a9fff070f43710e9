# Two commands matter: `make matrix` (installs what it needs, builds, measures, renders) and
# `make test`. Everything else is a step of those.

MATRIX ?= matrix.toml
# Where a run is published: the matrix file's `publish` (results/ for matrix.toml); OUT overrides.
OUT ?=
OUT_ARG := $(if $(OUT),--out $(OUT))
TOOLS_DIR ?= $(CURDIR)/.tools
export TOOLS_DIR

CARGO ?= cargo
RUNNER := target/debug/matrix

.PHONY: examples diagnose capacity modes versions links screenshot selftest test-deps all init init-core init-wasmer init-wasmedge init-containers toolchain runner build matrix results doctor check test quick

all: matrix

# The pinned toolchain and wasm targets (rust-toolchain.toml). RUSTUP_AUTO_INSTALL may be 0, so
# install explicitly; this is a no-op when they are present.
toolchain:
	rustup toolchain install
	rustup target add wasm32-wasip1 wasm32-wasip2

runner: toolchain
	$(CARGO) build --locked -p matrix

# What `make test` needs: toolchain, k6, wasmtime (the pinned release and 46.0.1, the last with
# preopened sockets, where Go runs), Go, oha (a crates.io build, a few minutes once), and wrk for
# the peak-throughput load (Debian package; optional: without it peak cells are skipped), and perf
# and valgrind for the diagnosis pass (Debian's linux-perf and valgrind; optional: without them the
# page says which counts are missing and why).
init-core: runner
	$(RUNNER) install k6 wasmtime wasmtime@46.0.1 go oha
	$(RUNNER) install --optional wrk perf valgrind

# wasmer builds from crates.io (~15 min) when no binary is found; WasmEdge only has an official
# installer, which needs GitHub. Both are optional: their cells are skipped with the reason.
init-wasmer: runner
	$(RUNNER) install --optional wasmer

init-wasmedge: runner
	$(RUNNER) install --optional wasmedge

# Containers, the origin README's path: Debian's containerd and runc, and the wasmtime shim built
# from runtimes/shims/wasmtime on runwasi's library (~7 min once; Debian's protobuf-compiler,
# libseccomp-dev, pkg-config). Optional: without them, or without root, container cells are
# skipped with the reason.
init-containers: runner
	$(RUNNER) install --optional containerd runc shim-wasmtime

# Everything the default matrix can use. Idempotent.
init: init-core init-wasmer init-wasmedge init-containers
	$(RUNNER) doctor

# Every server build, each language and listener bootstrap (`matrix build --help`); the runner
# also builds what a matrix needs. Go builds need Go (`make init-core`).
build: runner
	$(RUNNER) build

# Installs only what $(MATRIX) uses (a failed install skips its cells, with the reason), then runs.
# The runner exits 1 when some cells failed: their reasons are on the page, so make does not fail.
# The default matrix into results/ also refreshes the README's quoted figures (the runner does)
# and the screenshot, when Chromium is here.
matrix: runner
	$(RUNNER) install --for $(MATRIX)
	@$(RUNNER) run --matrix $(MATRIX) $(OUT_ARG); rc=$$?; \
	  if [ $$rc -eq 1 ]; then echo "some cells failed: their reasons are on the page"; rc=0; fi; \
	  if [ $$rc -eq 0 ] && [ -z "$(OUT)" ] && [ "$(MATRIX)" = matrix.toml ]; then \
	    $(RUNNER) screenshot --out results || echo "screenshot not refreshed (see above): make screenshot"; fi; \
	  exit $$rc

# The pages beside the default one (results/capacity/, results/modes/, results/versions/), linked
# from it.
capacity:
	$(MAKE) matrix MATRIX=matrix.capacity.toml
modes:
	$(MAKE) matrix MATRIX=matrix.modes.toml
versions:
	$(MAKE) matrix MATRIX=matrix.versions.toml
links: test-deps
	$(MAKE) matrix MATRIX=matrix.links.toml
# The two example servers of examples/ (an axum service, a wasi:http component), measured as a
# user's own servers are: results/examples/.
examples:
	$(MAKE) matrix MATRIX=examples/matrix.toml

# Seconds-long smoke run of the same matrix.
# A smoke run: into target/quick unless OUT says otherwise, so it never replaces the published page.
quick: init-core
	$(RUNNER) run --quick --matrix $(MATRIX) --out $(or $(OUT),target/quick)

# The first screen of the page as a reader sees it at 1280 x 800 (docs/results-page.png, shown in
# README.md, with docs/results-page.json naming the run it shows). Needs Chromium (make test-deps).
screenshot: runner
	$(RUNNER) screenshot --out results

# A/A and A/B self-test of the statistics on this machine (results/selftest/).
TRIES ?= 5
selftest: init-core
	$(RUNNER) selftest --tries $(TRIES)

# Only the diagnosis pass of $(MATRIX)'s servers: system calls, instructions, profiles.
diagnose: init-core
	$(RUNNER) diagnose --matrix $(MATRIX)

# Re-render the page from saved JSON; nothing is measured.
results: runner
	$(RUNNER) render $(OUT_ARG)

doctor: runner
	$(RUNNER) doctor

# Every runtime x mode found here must answer every route the same way.
check: init-core
	$(RUNNER) check

# Headless Chromium for the page test (Debian package; without it that test is skipped, visibly).
# chromium for the page test; iptables and openssh-server (sshd started by the runner inside a
# namespace, never as a system service) for the hosts and links tests. Optional: without them
# those tests are skipped with the reason.
test-deps:
	@command -v chromium >/dev/null || apt-get install -y --no-install-recommends chromium \
	  || (apt-get update && apt-get install -y --no-install-recommends chromium) \
	  || echo "warning: chromium not installed: the browser test will be skipped"
	@(command -v iptables >/dev/null && test -x /usr/sbin/sshd) \
	  || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iptables openssh-server \
	  || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iptables openssh-server) \
	  || echo "warning: iptables/openssh-server not installed: the hosts tests will be skipped"

test: init-core init-wasmer init-containers test-deps
	$(CARGO) test --locked --workspace -- --nocapture --test-threads=1
