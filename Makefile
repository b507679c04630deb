# Thin wrappers so a fresh machine needs only python3: each target installs tox if missing.
PY ?= python3
TOX = $(PY) -m tox

.PHONY: demo test lint bench tox clean study-sensitivity

tox:
	@$(PY) -m tox --version >/dev/null 2>&1 || $(PY) -m pip install -q "tox>=4"

demo: tox
	$(TOX) -e demo

test: tox
	$(TOX)

lint: tox
	$(TOX) -e lint

bench: tox
	$(TOX) -e bench

clean:
	rm -rf runs .tox leaderboard/site

# The recorded sensitivity study (docs/study_sensitivity.md): baseline / Rand / LUAB / the two oracles
# x 3 seeds x {synthetic, synthetic-where}; resumable (finished jobs are skipped). Hours on a CPU.
study-sensitivity: tox
	$(TOX) -e study -- $(ARGS)
