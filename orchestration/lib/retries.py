"""Retries: a step that failed for a transient reason runs again, with exponential backoff;
one that failed for a permanent reason fails at once.

Which is which is warehouse/failures.py's `is_transient`. Dagster's own convention carries
the verdict: a `Failure` with `allow_retries=False` is permanent, and the job's RetryPolicy
never retries it; any other exception of a step is retried by the policy. So

- the asset jobs (daily build, dataset release, source freshness) carry RETRY_POLICY, and
  every step of theirs raises its failures through `failures_classified`, which turns
  anything not transient into `Failure(allow_retries=False)`;
- the op jobs with typed config (full refresh, dataset rebuild, retention) do not carry the
  policy: Dagster validates their config inside the step, and bad config would be retried
  like anything else. Their ops use `retried_if_transient`, which asks Dagster for a retry
  (RetryRequested) on a transient failure only, with the policy's backoff.

Blocking dbt tests that fail are never retried: Dagster fails the step for them after the
step's code returned, outside any retry policy.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from dagster import (
    Backoff,
    Failure,
    Jitter,
    MetadataValue,
    OpExecutionContext,
    RetryPolicy,
    RetryRequested,
)
from dagster_dbt.errors import DagsterDbtError

from warehouse.failures import is_transient, without_values

# Three more attempts, about 15 s, 30 s and 60 s after each failure: long enough for a
# `dbt build` by hand or a backup to release the lock, short enough to finish the night.
RETRY_POLICY = RetryPolicy(
    max_retries=3, delay=15, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS
)


def classified(error: Exception) -> Failure:
    """`error` as a Failure that says whether it is transient (allow_retries). The project's
    own Failures already say so; dagster-dbt's (a Failure too) are judged by their text."""
    if isinstance(error, Failure) and not isinstance(error, DagsterDbtError):
        return error
    transient = is_transient(error)
    verdict = (
        "a transient failure: retried with backoff"
        if transient
        else "not transient: it is not retried; fix the cause and re-execute the run"
    )
    return Failure(
        description=f"{type(error).__name__}: {without_values(str(error))} ({verdict})",
        metadata={"transient": MetadataValue.bool(transient)},
        allow_retries=transient,
    )


@contextmanager
def failures_classified() -> Iterator[None]:
    """Inside a step of a job with RETRY_POLICY: exceptions leave as Failures whose
    allow_retries says whether the policy may retry them."""
    try:
        yield
    except Exception as error:
        failure = classified(error)
        if failure is error:
            raise
        raise failure from error


@contextmanager
def retried_if_transient(
    context: OpExecutionContext, policy: RetryPolicy = RETRY_POLICY
) -> Iterator[None]:
    """Inside an op of a job without a retry policy: a transient failure asks Dagster for
    another attempt (up to the policy's max_retries, after its backoff); any other fails."""
    try:
        yield
    except Exception as error:
        failure = classified(error)
        if not failure.allow_retries:
            if failure is error:
                raise
            raise failure from error
        if failure is not error:
            failure.__cause__ = error
        # from the Failure: Dagster reports its description once the retries run out
        raise RetryRequested(
            max_retries=policy.max_retries,
            seconds_to_wait=policy.calculate_delay(context.retry_number + 1),
        ) from failure
