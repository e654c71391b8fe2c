"""Jinja's bytecode cache for dbt, which otherwise compiles every template again in each process.

dbt renders macros and models through `jinja2.Environment.from_string`, and Jinja caches
compiled code only for templates that come through a loader, so every dbt process parses
and compiles the same ~580 templates (dbt's macros, the adapter's, this project's, each
model's SQL) from source again: 1.2 s of CPU held under Python's lock in a daily run at
scale M, about a twelfth of that run (bench/RESULTS.md, "What changed"). `install` puts Jinja's own
`FileSystemBytecodeCache` in front of `Environment.compile`, the way Jinja uses it for
loaded templates: a template compiled once is read back from disk by later processes.

An entry's key is the template's source with what else shapes the compiled code: the
versions of Jinja and dbt-common, the environment's class, extensions, filters, tests and
syntax settings, the template's name and `defer_init`. Jinja checks each
file's header (its own version and Python's) and the source's checksum, and treats a file
that fails either as a miss; files are written to a temporary name and renamed, so dbt
processes running at once can share a directory. The default directory is inside the
virtual environment, named after the Jinja and dbt-common versions (dbt's template
extensions live in dbt-common), so it goes with the libraries it was compiled for.

`WAREHOUSE_DBT_BYTECODE_CACHE` names another directory, or `off`. The cache is also off
while `DBT_MACRO_DEBUGGING` is set, since that dbt setting works by hooking the compilation.
"""

import contextlib
import os
import pickle
import sys
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path
from types import CodeType
from typing import Any

import jinja2
from jinja2.bccache import Bucket, FileSystemBytecodeCache
from jinja2.utils import internalcode

SETTING = "WAREHOUSE_DBT_BYTECODE_CACHE"


# Jinja's header checks its own version and Python's; dbt's extensions and filters, which
# also shape the compiled code, come with dbt-common.
LIBRARIES = f"jinja2-{version('jinja2')}-dbt-common-{version('dbt-common')}"


def default_directory() -> Path:
    return Path(sys.prefix) / "var" / "cache" / "warehouse-dbt" / LIBRARIES


def cache_directory(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The directory to cache compiled templates in, or None to compile as dbt does."""
    setting = environ.get(SETTING, "").strip()
    if setting.lower() == "off" or environ.get("DBT_MACRO_DEBUGGING"):
        return None
    directory = Path(setting) if setting else default_directory()
    with contextlib.suppress(OSError):  # checked just below
        directory.mkdir(parents=True, exist_ok=True)
    if directory.is_dir() and os.access(directory, os.W_OK | os.X_OK):
        return directory
    if setting:  # asked for by name: say why it is not used (a read-only venv stays quiet)
        print(
            f"warehouse-dbt: {SETTING}={setting} is not a writable directory; "
            "compiling dbt's templates without a cache",
            file=sys.stderr,
        )
    return None


def _named(setting: object) -> object:
    return getattr(setting, "__qualname__", setting)


def _compiler_settings(environment: jinja2.Environment) -> tuple[object, ...]:
    """What Jinja's lexer, parser and code generator read from the environment."""
    e = environment
    return (
        f"{type(e).__module__}.{type(e).__qualname__}",
        sorted(e.extensions),
        sorted(e.filters),  # the generated code differs for a filter or test it cannot find
        sorted(e.tests),
        (e.block_start_string, e.block_end_string, e.variable_start_string),
        (e.variable_end_string, e.comment_start_string, e.comment_end_string),
        (e.line_statement_prefix, e.line_comment_prefix, e.newline_sequence),
        (e.trim_blocks, e.lstrip_blocks, e.keep_trailing_newline, e.optimized, e.is_async),
        (_named(e.autoescape), _named(e.finalize)),
    )


def _entry_name(
    environment: jinja2.Environment, checksum: str, name: str | None, defer_init: bool
) -> str:
    """The entry of a template whose source has `checksum` (Jinja's, which the bucket also
    keeps and checks)."""
    return repr((LIBRARIES, _compiler_settings(environment), name, defer_init, checksum))


def install(directory: Path) -> None:
    """Route every `jinja2.Environment.compile` of template source through the cache."""
    cache = FileSystemBytecodeCache(str(directory))
    compile_source = jinja2.Environment.compile

    @internalcode  # kept out of template tracebacks, like the method it wraps
    def compile_through_cache(
        self: jinja2.Environment,
        source: Any,
        name: str | None = None,
        filename: str | None = None,
        raw: bool = False,
        defer_init: bool = False,
    ) -> str | CodeType:
        if raw or not isinstance(source, str):  # Python source or a parsed tree: not cached
            return compile_source(self, source, name, filename, raw, defer_init)
        # What BytecodeCache.get_bucket does, with the entry named by its source.
        checksum = cache.get_source_checksum(source)
        entry = _entry_name(self, checksum, name, defer_init)
        bucket = Bucket(self, cache.get_cache_key(entry, filename), checksum)
        try:
            cache.load_bytecode(bucket)
        except (OSError, EOFError, ValueError, pickle.UnpicklingError):
            bucket.reset()  # an unreadable entry is a miss, written afresh below
        if bucket.code is None:
            bucket.code = compile_source(self, source, name, filename, raw, defer_init)
            # A full disk costs the next process this compilation, nothing more.
            with contextlib.suppress(OSError):
                cache.dump_bytecode(bucket)
        return bucket.code

    jinja2.Environment.compile = compile_through_cache  # type: ignore[method-assign]
