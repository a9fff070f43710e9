module wasmbench/server

go 1.24
