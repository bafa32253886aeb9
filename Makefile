# Two commands for a fresh machine with Python 3.11: `make repro` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Offline IMDB: use the archive beside the project when there is one (any other path: set the variable).
SHARED_IMDB := $(wildcard $(abspath ../shared/data/aclImdb_v1-labeled.tar.gz))
export WEIGHTREG_IMDB_ARCHIVE ?= $(SHARED_IMDB)
# Python reads it only when an interpreter starts: every command run here (the DVC stages, the tests, the
# workers a Hydra launcher starts) hashes strings the same way, and run.json records the value it started with.
export PYTHONHASHSEED ?= 0

.PHONY: repro test test-fast params bench push verify clean

# Create the environment once; reinstall only when the pins change.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

params: $(STAMP)
	$(BIN)/python -m weightreg.compose

repro: $(STAMP)
	$(BIN)/python -m weightreg.compose
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/dvc repro

# One pytest worker per core, plus one (pytest-xdist): a test also waits (on SLURM's queue, DVC's lock, a process it
# killed), and the extra worker fills those waits. On 2 cores, same commit: 2 workers took 989 s, 3 took 849 s.
# loadgroup: the tests that share one build (xdist groups "built_pipeline", the tiny pipeline, tests/conftest.py;
# "moons_trained", test_faults.py) run on one worker, which builds it once; groups are queued before single tests,
# slow tests before quick ones (tests/conftest.py says why).
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
PYTEST := PATH=$(abspath $(BIN)):$$PATH $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

test: $(STAMP)
	$(PYTEST)

test-fast: $(STAMP)
	$(PYTEST) -m "not slow"

# Upload the cached outputs to the default DVC remote (.dvc/config: a folder beside the clone).
push: $(STAMP)
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/dvc push

# Re-run a random sample of cached runs and compare (params.yaml: verify).
verify: $(STAMP)
	$(BIN)/python -m weightreg.verify

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_trainer.py
	$(BIN)/python benchmarks/bench_text.py
	$(BIN)/python benchmarks/bench_fit_loop.py

clean:
	rm -rf $(VENV)
