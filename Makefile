# Shortcuts; the scripts in scripts/ do the work (and can be run directly).
.PHONY: up test lint bench

up:
	bash scripts/up

test:
	bash scripts/test

lint:
	.venv/bin/ruff check .

bench:
	bash scripts/bench
