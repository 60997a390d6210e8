# Shortcuts for the README's two commands (which are plain scripts, so a machine without make works).
.PHONY: demo test bench
demo:
	./scripts/demo.sh

test:
	./scripts/test.sh

bench:
	./scripts/bootstrap.sh
	.venv/bin/python bench/esl_ingest.py
	.venv/bin/python bench/acd_scale.py
