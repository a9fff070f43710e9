//! The published page: rendered from the checked-in fixture run (a real run's JSON), then opened in
//! headless Chromium to prove the tables and every chart render. A screenshot is kept in
//! target/test-artifacts/.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// Renders a recorded run: `rounds-run.json` (5 rounds: intervals, ties, curves) or `run.json`
/// (a run from before rounds, which must still render).
fn render_fixture_named(out: &Path, fixture: &str) {
    let fixture_dir = out.join("fixture-run");
    std::fs::create_dir_all(&fixture_dir).unwrap();
    std::fs::copy(
        repo_root().join("runner/tests/fixtures").join(fixture),
        fixture_dir.join("run.json"),
    )
    .unwrap();
    let output = run_matrix(&[
        "render",
        "--run",
        fixture_dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success());
}

fn render_fixture(out: &Path) {
    render_fixture_named(out, "rounds-run.json");
}

#[test]
fn a_run_from_before_rounds_still_renders() {
    let dir = tempfile::tempdir().unwrap();
    render_fixture_named(dir.path(), "run.json");
    let md = std::fs::read_to_string(dir.path().join("README.md")).unwrap();
    assert!(md.contains("| native"), "{md}");
}

#[test]
fn markdown_page_agrees_with_the_json_and_references_existing_charts() {
    let dir = tempfile::tempdir().unwrap();
    render_fixture(dir.path());
    let run = read_run(&dir.path().join("fixture-run/run.json"));
    let md = std::fs::read_to_string(dir.path().join("README.md")).unwrap();
    for cell in &run.cells {
        let id = &cell.id;
        match cell.status {
            Status::Ok => {
                let shown = thousands(cell.metrics.rps.unwrap());
                assert!(md.contains(&shown), "{id}: req/s {shown} not on the page");
                // Every measured figure comes with its interval over the rounds.
                let e = cell.estimates.rps.unwrap();
                assert!(
                    e.n >= 3 && e.lo <= e.median && e.median <= e.hi,
                    "{id}: {e:?}"
                );
            }
            _ => assert!(
                md.contains(id.as_str()),
                "{id} (not measured) must be listed with its reason"
            ),
        }
    }
    assert!(md.contains("× native") && md.contains("baseline"), "{md}");
    assert!(md.contains("How to read the numbers"), "{md}");
    assert!(md.contains("latency against offered load"), "{md}");
    let charts: Vec<&str> = md
        .lines()
        .filter_map(|l| l.strip_prefix("![")?.split_once("](")?.1.strip_suffix(')'))
        .collect();
    assert!(
        charts.len() >= 4,
        "expected rps, latency, memory and startup charts, got {charts:?}"
    );
    for chart in charts {
        let svg = std::fs::read_to_string(dir.path().join(chart))
            .unwrap_or_else(|e| panic!("{chart}: {e}"));
        assert!(
            svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{chart} is not an SVG document"
        );
    }
}

/// Appended to a copy of index.html: counts what the browser actually laid out.
const PROBE: &str = r#"<script>
window.addEventListener('load', () => {
  const charts = [...document.querySelectorAll('figure.chart svg')];
  const drawn = charts.filter(s => s.getBoundingClientRect().height > 20 &&
    (s.querySelectorAll('rect').length > 2 || s.querySelectorAll('polyline').length > 2));
  const images = [...document.images];
  const broken = images.filter(i => !i.complete || i.naturalWidth === 0);
  const tables = [...document.querySelectorAll('table.results')].filter(t => t.rows.length > 1);
  // Error bars: black two-pixel lines on the req/s charts.
  const bars = charts.filter(s => s.closest('figure').dataset.file.endsWith('-rps.svg'));
  const errorBars = bars.filter(s => [...s.querySelectorAll('polyline')]
    .some(l => l.getAttribute('stroke') === '#000000' && l.getAttribute('stroke-width') === '2'));
  const cells = [...document.querySelectorAll('table.results td')].map(td => td.textContent);
  const intervals = cells.filter(t => /\(.+–.+\)/.test(t)).length;
  const ties = cells.filter(t => /^=\d+$/.test(t.trim())).length;
  // Compact tables fit the 1280-px viewport without scrolling sideways.
  const wide = [...document.querySelectorAll('table.compact')]
    .filter(t => t.scrollWidth > t.clientWidth + 1 || t.getBoundingClientRect().right > window.innerWidth + 1)
    .map(t => t.previousElementSibling ? t.closest('body') && (t.scrollWidth + 'px') : 'table');
  // Every chart has its title and axis titles, and no legend entry lies on plotted data.
  const faults = [];
  for (const fig of document.querySelectorAll('figure.chart')) {
    const svg = fig.querySelector('svg');
    const texts = [...svg.querySelectorAll('text')];
    const has = s => texts.some(t => t.textContent.trim() === s.trim());
    if (!has(fig.dataset.title)) faults.push(`${fig.dataset.file}: no title`);
    for (const axis of (fig.dataset.axes || '').split('|').filter(a => a)) {
      if (!has(axis)) faults.push(`${fig.dataset.file}: no axis title "${axis}"`);
    }
    const data = [...svg.querySelectorAll('rect, polyline, circle')]
      .map(e => e.getBoundingClientRect())
      .filter(b => b.width > 16 || b.height > 16)
      .filter(b => b.width < svg.getBoundingClientRect().width * 0.98);
    for (const entry of (fig.dataset.legend || '').split('|').filter(a => a)) {
      const label = texts.find(t => t.textContent.trim() === entry.trim());
      if (!label) { faults.push(`${fig.dataset.file}: legend "${entry}" missing`); continue; }
      const l = label.getBoundingClientRect();
      const hit = data.find(b => l.left < b.right && b.left < l.right && l.top < b.bottom && b.top < l.bottom);
      if (hit) faults.push(`${fig.dataset.file}: legend "${entry}" overlaps data`);
    }
  }
  document.body.setAttribute('data-faults', faults.concat(wide.map(w => `wide table ${w}`)).join('; '));
  document.body.setAttribute('data-probe', `charts=${charts.length} drawn=${drawn.length} broken=${broken.length} tables=${tables.length} rps-charts=${bars.length} with-error-bars=${errorBars.length} intervals=${intervals > 0} ties=${ties > 0}`);
});
</script>"#;

/// Checks every chart on a page: each text label inside its SVG and clear of every other label.
const LABEL_PROBE: &str = r#"<script>
window.addEventListener('load', () => {
  const faults = [];
  for (const fig of document.querySelectorAll('figure.chart')) {
    const svg = fig.querySelector('svg');
    const r = svg.getBoundingClientRect();
    const labels = [...svg.querySelectorAll('text')]
      .filter(t => t.textContent.trim())
      .map(t => ({ text: t.textContent.trim(), b: t.getBoundingClientRect() }));
    for (const l of labels) {
      if (l.b.left < r.left - 1 || l.b.right > r.right + 1 || l.b.top < r.top - 1 || l.b.bottom > r.bottom + 1)
        faults.push(`${fig.dataset.file}: "${l.text}" leaves the chart`);
    }
    for (let i = 0; i < labels.length; i++) for (let j = i + 1; j < labels.length; j++) {
      const a = labels[i].b, b = labels[j].b;
      const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (w > 1 && h > 1) faults.push(`${fig.dataset.file}: "${labels[i].text}" overlaps "${labels[j].text}"`);
    }
  }
  document.body.setAttribute('data-label-faults', faults.join(' || '));
  document.body.setAttribute('data-label-charts', document.querySelectorAll('figure.chart').length);
});
</script>"#;

/// Opens `page` in headless Chromium at `width` x `height` with `probe` appended and returns
/// the attributes the probe set on the body.
fn probe_page(browser: &str, page: &Path, probe: &str, width: u32, height: u32) -> String {
    let html = std::fs::read_to_string(page).unwrap();
    let probed = page.with_file_name(format!("probed-{width}.html"));
    std::fs::write(&probed, html.replace("</body>", &format!("{probe}</body>"))).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let out = headless(browser, profile.path())
        .arg(format!("--window-size={width},{height}"))
        .args(["--virtual-time-budget=5000", "--dump-dom"])
        .arg(format!("file://{}", probed.display()))
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&probed);
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The value of `data-<name>` on the probed page's body.
fn attribute(dom: &str, name: &str) -> String {
    dom.split(&format!("data-{name}=\""))
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("the probe did not set data-{name}"))
        .replace("&quot;", "\"")
}

/// Every chart of the fixture's page and of every published page (results/ and its sub-pages,
/// one page holding them all): no label outside its chart, none on another.
#[test]
fn every_chart_keeps_its_labels_inside_and_apart() {
    let Some(browser) = chromium() else {
        skip_for_missing("every_chart_keeps_its_labels_inside_and_apart", "chromium", "Chromium is not installed (apt-get install chromium; `make test` tries)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    render_fixture(dir.path());
    let mut svgs: Vec<(String, String)> = Vec::new();
    let mut chart_dirs = vec![dir.path().join("charts")];
    // Every published page: its charts as published, and as this code draws them from its run.
    let published = repo_root().join("results");
    let mut pages = vec![published.clone()];
    if let Ok(entries) = std::fs::read_dir(&published) {
        pages.extend(entries.flatten().map(|e| e.path()).filter(|p| p.join("latest.json").is_file()));
    }
    for (k, page) in pages.iter().enumerate().filter(|(_, p)| p.join("latest.json").is_file()) {
        chart_dirs.push(page.join("charts"));
        let redrawn = dir.path().join(format!("redrawn-{k}"));
        std::fs::create_dir_all(redrawn.join("run")).unwrap();
        std::fs::copy(page.join("latest.json"), redrawn.join("run/run.json")).unwrap();
        let output = run_matrix(&["render", "--run", redrawn.join("run").to_str().unwrap(), "--out", redrawn.to_str().unwrap()]);
        assert!(output.status.success(), "{}: {}", page.display(), String::from_utf8_lossy(&output.stderr));
        chart_dirs.push(redrawn.join("charts"));
    }
    for charts in chart_dirs.iter().filter(|d| d.is_dir()) {
        for entry in std::fs::read_dir(charts).unwrap().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "svg") {
                let name = path.strip_prefix(repo_root()).unwrap_or(&path).display().to_string();
                svgs.push((name, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    let figures: String = svgs
        .iter()
        .map(|(name, svg)| format!("<figure class=\"chart\" data-file=\"{name}\">{svg}</figure>\n"))
        .collect();
    let page = dir.path().join("all-charts.html");
    std::fs::write(&page, format!("<!doctype html><html><body style=\"margin:0\">{figures}</body></html>")).unwrap();
    let dom = probe_page(&browser, &page, LABEL_PROBE, 1400, 1000);
    assert_eq!(attribute(&dom, "label-charts"), svgs.len().to_string());
    assert_eq!(attribute(&dom, "label-faults"), "", "labels clipped or overlapping");
    eprintln!("{} charts checked", svgs.len());
}

/// Read on a phone (390 px): the page itself never scrolls sideways (tables and charts scroll
/// inside their own boxes) and chart text is drawn at a readable size. Chromium's window has a
/// minimum width above 390 px, so the page is laid out in a 390-px frame.
#[test]
fn the_page_reads_at_390_px() {
    let Some(browser) = chromium() else {
        skip_for_missing("the_page_reads_at_390_px", "chromium", "Chromium is not installed (apt-get install chromium; `make test` tries)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    render_fixture(dir.path());
    let probe = r#"<script>
window.addEventListener('load', () => {
  const root = document.documentElement;
  const page = root.scrollWidth <= root.clientWidth ? 'fits' : `${root.scrollWidth}px-in-${root.clientWidth}px`;
  const sizes = [...document.querySelectorAll('figure.chart svg text')]
    .filter(t => t.textContent.trim()).map(t => t.getBoundingClientRect().height).filter(h => h > 0);
  sizes.sort((a, b) => a - b);
  const small = sizes[Math.floor(sizes.length * 0.1)] || 0;
  parent.postMessage(`page=${page} chart-text-p10=${small >= 9 ? 'readable' : small.toFixed(1) + 'px'}`, '*');
});
</script>"#;
    let html = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    std::fs::write(dir.path().join("phone.html"), html.replace("</body>", &format!("{probe}</body>"))).unwrap();
    let frame = dir.path().join("frame.html");
    std::fs::write(
        &frame,
        r#"<!doctype html><html><body><iframe src="phone.html" style="width:390px;height:800px;border:0"></iframe>
<script>window.addEventListener('message', e => document.body.setAttribute('data-mobile', e.data));</script></body></html>"#,
    )
    .unwrap();
    let dom = probe_page(&browser, &frame, "", 600, 900);
    assert_eq!(attribute(&dom, "mobile"), "page=fits chart-text-p10=readable");
}

/// The first screen of the published page (1280 x 800): each server language's verdict table,
/// whole, with absolute req/s, its advice sentence, and no table scrolling sideways.
#[test]
fn the_published_first_screen_holds_the_verdicts() {
    let page = repo_root().join("results/index.html");
    if !page.is_file() {
        skip("the_published_first_screen_holds_the_verdicts", "results/index.html is not published yet (make matrix)");
        return;
    }
    let Some(browser) = chromium() else {
        skip_for_missing("the_published_first_screen_holds_the_verdicts", "chromium", "Chromium is not installed (apt-get install chromium; `make test` tries)");
        return;
    };
    let probe = r#"<script>
window.addEventListener('load', () => {
  const tables = [...document.querySelectorAll('table.verdict')];
  const advice = [...document.querySelectorAll('p.advice')];
  const below = tables.concat(advice).filter(e => e.getBoundingClientRect().bottom > 800).length;
  const scrolling = tables.filter(t => t.scrollWidth > t.clientWidth + 1).length;
  const absolute = tables.filter(t => [...t.querySelectorAll('td')].some(td => /^[0-9.,]+k? · /.test(td.textContent.trim()))).length;
  document.body.setAttribute('data-first', `verdicts=${tables.length} advice=${advice.length} below-the-fold=${below} scrolling=${scrolling} with-absolute=${absolute}`);
});
</script>"#;
    let dom = probe_page(&browser, &page, probe, 1280, 800);
    let servers = std::fs::read_to_string(&page).unwrap().matches("<table class=\"results compact verdict\"").count();
    assert!(servers >= 2, "expected a verdict per server language (Rust and Go), found {servers}");
    assert_eq!(
        attribute(&dom, "first"),
        format!("verdicts={servers} advice={servers} below-the-fold=0 scrolling=0 with-absolute={servers}")
    );
}

fn chromium() -> Option<String> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(|c| c.to_string())
}

fn headless(browser: &str, profile: &Path) -> Command {
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

#[test]
fn index_html_renders_tables_and_every_chart_in_chromium() {
    let Some(browser) = chromium() else {
        skip_for_missing(
            "index_html_renders_tables_and_every_chart_in_chromium",
            "chromium",
            "Chromium is not installed (apt-get install chromium; `make test` tries)",
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    render_fixture(dir.path());
    let html = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    let expected_charts = std::fs::read_dir(dir.path().join("charts"))
        .unwrap()
        .count();
    let sections = html.matches("<table class=\"results").count();
    let probed = dir.path().join("probed.html");
    std::fs::write(&probed, html.replace("</body>", &format!("{PROBE}</body>"))).unwrap();

    let out = headless(&browser, &dir.path().join("profile"))
        .args([
            "--window-size=1280,1000",
            "--virtual-time-budget=5000",
            "--dump-dom",
        ])
        .arg(format!("file://{}", probed.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    let probe = dom
        .split("data-probe=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| {
            panic!(
                "the probe did not run: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let faults = dom
        .split("data-faults=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or("probe did not run");
    assert_eq!(faults, "", "layout faults at 1280 px");
    let rps_charts = std::fs::read_dir(dir.path().join("charts"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with("-rps.svg")
        })
        .count();
    // Ties as the library ranks the recorded run (view::tests checks the ranking itself).
    let run = read_run(&dir.path().join("fixture-run/run.json"));
    let ties = runner::report::view::page(&run, &runner::analysis::analyze(&run), None)
        .sections
        .iter()
        .flat_map(|s| &s.rows)
        .any(|r| r.rank.starts_with('='));
    assert_eq!(
        probe,
        format!("charts={expected_charts} drawn={expected_charts} broken=0 tables={sections} rps-charts={rps_charts} with-error-bars={rps_charts} intervals=true ties={ties}")
    );

    let artifacts = repo_root().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("results-page.png");
    let _ = std::fs::remove_file(&shot);
    let status = headless(&browser, &dir.path().join("profile"))
        .args(["--window-size=1300,2400", "--hide-scrollbars"])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!(
            "file://{}",
            dir.path().join("index.html").display()
        ))
        .output()
        .unwrap();
    assert!(status.status.success());
    assert!(
        std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0) > 20_000,
        "screenshot missing or blank"
    );
    eprintln!("screenshot kept at {}", shot.display());
}

/// The page and `matrix export` read one analysis: every figure on the page is a figure of the
/// export, the same number (and interval), and nothing the page leaves out ("–") is exported. On
/// the fixture and on the published run.
#[test]
fn every_figure_on_the_page_is_the_exported_one() {
    let dir = tempfile::tempdir().unwrap();
    render_fixture(dir.path());
    let fixture_run = dir.path().join("fixture-run");
    agree(&fixture_run, &["--run", fixture_run.to_str().unwrap()]);
    let published = repo_root().join("results");
    if published.join("latest.json").is_file() {
        agree(&published, &["--out", published.to_str().unwrap()]);
    }
}

fn agree(dir: &Path, source: &[&str]) {
    use runner::export::MetricRow;
    use runner::report::format::Figure;
    let run = match dir.join("latest.json").is_file() {
        true => read_run(&dir.join("latest.json")),
        false => read_run(&dir.join("run.json")),
    };
    let out = if dir.join("latest.json").is_file() {
        dir.to_path_buf()
    } else {
        dir.parent().unwrap().parent().unwrap_or(dir).to_path_buf()
    };
    let mut args = vec!["export", "--format", "json"];
    args.extend_from_slice(source);
    let output = run_matrix(&args);
    assert!(output.status.success());
    let rows: Vec<MetricRow> = serde_json::from_slice(&output.stdout).unwrap();
    let find =
        |cell: &str, metric: &str| rows.iter().find(|r| r.cell == cell && r.metric == metric);
    let mut checked = 0;
    let mut check = |cell: &str, metric: &str, f: &Figure, with_interval: bool| match (
        f.value,
        find(cell, metric),
    ) {
        (None, None) => {}
        (Some(v), Some(r)) => {
            assert_eq!(
                v, r.value,
                "{cell} {metric}: page {} vs export {}",
                f.text, r.value
            );
            if with_interval {
                assert_eq!(
                    f.interval,
                    r.lower.zip(r.upper),
                    "{cell} {metric}: {}",
                    f.text
                );
            }
            checked += 1;
        }
        (v, r) => panic!(
            "{cell} {metric}: the page shows {:?} ({v:?}), the export {r:?}",
            f.text
        ),
    };
    let (analysis, previous) = runner::published::analysis_of(&out, &run);
    let page = runner::report::view::page(&run, &analysis, previous);
    for row in page
        .sections
        .iter()
        .flat_map(|s| &s.rows)
        .chain(&page.not_measured)
    {
        if !row.status.starts_with("ok") {
            continue;
        }
        let id = row.id.as_str();
        check(id, "rps", &row.rps, true);
        check(id, "rps_x_native", &row.ratio, true);
        check(id, "cpu_us_per_request", &row.cpu_per_request, true);
        check(id, "cpu_x_native", &row.cpu_cost, true);
        for (metric, f) in [
            ("median_round_p50_ms", &row.p50),
            ("median_round_p95_ms", &row.p95),
            ("median_round_p99_ms", &row.p99),
            ("median_round_p999_ms", &row.p999),
            ("receiving_avg_ms", &row.receiving),
            ("rss_peak_mb", &row.rss),
            ("startup_ms", &row.startup),
        ] {
            check(id, metric, f, false);
        }
    }
    for p in &page.direct_vs_container {
        check(&p.container_id, "rps_x_direct", &p.rps_ratio, true);
        check(&p.container_id, "cpu_x_direct", &p.cpu_ratio, true);
    }
    for r in page.across_versions.iter().flat_map(|g| &g.rows) {
        if r.vs_newest.text != "newest" {
            check(&r.id, "rps_x_newest", &r.vs_newest, true);
            check(&r.id, "cpu_x_newest", &r.cpu_vs_newest, true);
        }
    }
    for p in page
        .curves
        .iter()
        .flat_map(|c| &c.series)
        .flat_map(|s| &s.points)
    {
        check(&p.id, "p50_ms", &p.p50, true);
        check(&p.id, "p99_ms", &p.p99, true);
        check(&p.id, "offered_rps", &p.offered, false);
    }
    for p in page
        .scaling
        .iter()
        .flat_map(|s| &s.series)
        .flat_map(|s| &s.points)
    {
        if p.status == "ok" {
            check(&p.id, "rps", &p.rps, true);
            check(&p.id, "median_round_p99_ms", &p.p99, false);
        }
    }
    eprintln!(
        "{}: {checked} figures on the page, each the exported one",
        dir.display()
    );
    assert!(checked > 20, "too few figures checked: {checked}");
}

/// The README quotes the published run (the block `matrix render` writes) and the screenshot
/// shows it: a page rerun without them refreshed is caught here.
#[test]
fn the_readme_and_the_screenshot_show_the_published_run() {
    let results = repo_root().join("results");
    if !results.join("latest.json").is_file() {
        skip("the_readme_and_the_screenshot_show_the_published_run", "results/latest.json is not published yet (make matrix)");
        return;
    }
    let run = read_run(&results.join("latest.json"));
    let block = runner::report::readme::block_for(&results, &run);
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    assert!(
        readme.contains(&block),
        "README.md does not quote the published run {}: `matrix render` rewrites its figures block; expected\n{block}",
        run.run_id
    );
    let shot = read_json(&repo_root().join("docs/results-page.json"));
    assert_eq!(shot["run_id"], run.run_id.as_str(), "docs/results-page.png shows another run: make screenshot");
    let png = std::fs::read(repo_root().join("docs/results-page.png")).unwrap();
    let dimension = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    assert_eq!((dimension(16), dimension(20)), (1280, 800), "the screenshot is the first screen at 1280 x 800");
}
