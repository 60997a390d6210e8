# The two quick-start commands: `make demo` and `make test`. Each sets up .venv itself.
VENV ?= .venv

.PHONY: setup demo test bench
setup:
	./scripts/bootstrap.sh

demo: setup
	$(VENV)/bin/ctilink demo --speed 30 --duration 60

test: setup
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider

bench: setup
	$(VENV)/bin/python bench/esl_ingest.py
	$(VENV)/bin/python bench/acd_scale.py
