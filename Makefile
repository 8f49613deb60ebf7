# The two set-up commands of the README are `make book` and `make test`; both create the virtual
# environment on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
PIP_FLAGS := --quiet --disable-pip-version-check --no-warn-script-location

.PHONY: install book test execute status release lint format clean

install: $(INSTALLED)

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install $(PIP_FLAGS) -e '.[book,test]'
	$(BIN)/python -c "import wmlib, tensorflow, gymnasium, cma, vizdoom, jupyter_book, sphinx_exercise, nbval, playwright"
	touch $(INSTALLED)

## book: build the web book into _build/html (warnings are errors)
book: $(INSTALLED)
	$(BIN)/jupyter-book build . -W

## test: unit tests and every chapter under nbval, at the ci profile
test: $(INSTALLED)
	WM_PROFILE=ci $(BIN)/python -m pytest --nbval-lax

## execute: rerun every chapter in place at $WM_PROFILE (default small), saving its outputs
execute: $(INSTALLED)
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.timeout=-1 --ExecutePreprocessor.store_widget_state=True \
		book/*.ipynb
	$(MAKE) status

## status: regenerate the methods page's status tables from the manifests and the chapters
status: $(INSTALLED)
	$(BIN)/python -m wmlib status --profile $${WM_PROFILE:-small} > book/status_table.md.partial
	mv book/status_table.md.partial book/status_table.md

## release: pack the `small` artefacts of each task into _build/release/ (V, M, C, results; not
## the episodes) and write their SHA-256 into wmlib/release_registry.txt, for Colab readers
release: $(INSTALLED)
	$(BIN)/python -m wmlib release --profile small --task carracing
	$(BIN)/python -m wmlib release --profile small --task doom

lint: $(INSTALLED)
	$(BIN)/ruff check wmlib tests book bench _ext
	$(BIN)/ruff format --check wmlib tests book bench _ext

format: $(INSTALLED)
	$(BIN)/ruff format wmlib tests book bench _ext
	$(BIN)/ruff check --fix wmlib tests book bench _ext

## clean: remove the built book and caches (data/ is kept: delete it by hand)
clean:
	rm -rf _build .pytest_cache .ruff_cache
	find . -name __pycache__ -not -path "./$(VENV)/*" -prune -exec rm -rf {} +
