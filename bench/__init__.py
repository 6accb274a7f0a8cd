"""Speed figures for the README: `python -m bench --out DIR` writes DIR/bench.json."""
