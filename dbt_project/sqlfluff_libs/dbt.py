"""Stand-ins for dbt's cross-database macros, for sqlfluff's jinja templater (lint only, never run).

sqlfluff exposes this module as `dbt` in the template context, so `{{ dbt.type_bigint() }}` and the
like render to plausible PostgreSQL while linting.
"""


def type_bigint():
    return "bigint"


def type_int():
    return "integer"


def type_string():
    return "text"


def type_numeric():
    return "numeric(28, 6)"


def type_timestamp():
    return "timestamp"


def date_trunc(datepart, date):
    return f"date_trunc('{datepart}', {date})"


def datediff(first_date, second_date, datepart):
    return f"datediff('{datepart}', {first_date}, {second_date})"


def dateadd(datepart, interval, from_date_or_timestamp):
    return f"dateadd('{datepart}', {interval}, {from_date_or_timestamp})"


def replace(field, old_chars, new_chars):
    return f"replace({field}, {old_chars}, {new_chars})"


def length(expression):
    return f"length({expression})"


def date_spine(datepart, start_date, end_date):
    return (
        f"select cast(day as date) as date_{datepart} "
        f"from generate_series({start_date}, {end_date}, interval '1 {datepart}') as days (day)"
    )
