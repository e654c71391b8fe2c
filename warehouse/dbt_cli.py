"""`warehouse-dbt`: dbt's own command line, with Python's cyclic garbage collector off and
Jinja's bytecode cache on.

Dagster, the Makefile, the tests and the benchmark run dbt through this command
(warehouse/settings.py, DBT_EXECUTABLE); `pip install -e .` (done by `make install`)
puts it beside `dbt` in the virtual environment. Arguments, output and exit codes (0 ok,
1 failures, 2 errors) are dbt's: this only calls `dbt.cli.main.cli` the way dbt's own
console script does. Plain `dbt` gives the same results, a little slower.

Why the collector is off: a dbt command is one short process whose Python objects
(the manifest, a Jinja context per node) live until it exits. The collector kept walking
them anyway: 1.0-1.2 s of passes that stop every thread, in a 15 s daily run at scale
M (bench/RESULTS.md). What it costs: the cycles it would have freed
stay until the process exits (a full build at M ends holding about 635,000 such
objects), while peak memory stays DuckDB's buffer either way (a full build at M 6.5-7.5 GB
off against 6.7 GB on; a daily run about 1 GB both ways). Reference counting still frees
everything that is not in a cycle.

Why the bytecode cache: dbt compiles every macro and model template from source in each
process, 1.2 s of a daily run at M; with the cache a process reads back what an earlier one
compiled (warehouse/jinja_bytecode_cache.py, which says where and how it is keyed).
"""

import gc
import sys


def main() -> None:
    # Before dbt's imports, which are where the collector starts its work.
    gc.disable()
    from warehouse import jinja_bytecode_cache

    directory = jinja_bytecode_cache.cache_directory()
    if directory is not None:
        jinja_bytecode_cache.install(directory)
    from dbt.cli.main import cli

    sys.exit(cli())


if __name__ == "__main__":
    main()
