# Set-up and everyday commands. Everything runs inside a virtual environment in .venv,
# created from the python3 on PATH (3.11 or newer).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DRAWS  ?= 2000

.PHONY: install run test docs examples bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,calibrate,docs,serve]"
	touch $(STAMP)

install: $(STAMP)

## run: set up, then simulate the sales-led example end to end (results in out/saas_sales_led)
run: $(STAMP)
	$(BIN)/revsim validate scenarios/saas_sales_led.yaml
	$(BIN)/revsim run scenarios/saas_sales_led.yaml --draws $(DRAWS) --seed 42 --out out/saas_sales_led --force

## test: set up, then run the test suite
test: $(STAMP)
	$(BIN)/python -m pytest -q

## docs: build the documentation site into docs/_build/html (warnings are errors)
docs: $(STAMP)
	$(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html
	@echo "open docs/_build/html/index.html"

## bench: the benchmark suite, quick (make bench FULL=1 for the full suite, which takes long); see docs/performance.md
bench: $(STAMP)
	$(BIN)/python -m benchmarks $(if $(FULL),,--quick)

## examples: run every example scenario
examples: $(STAMP)
	for f in scenarios/*.yaml; do $(BIN)/revsim run $$f --draws $(DRAWS) --seed 42 --force || exit 1; done

clean:
	rm -rf $(VENV) out .pytest_cache docs/_build
