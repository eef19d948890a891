"""PublicHoliday, a condition on a Schedule's slot date: the date is a public holiday of a country (and of
one of its subdivisions), from the `holidays` library's calendars (offline, 150+ countries).

`country` is an ISO 3166-1 alpha-2 code (`FR`); without one, the country of the process's locale
(`LANG=fr_FR.UTF-8` → FR), else `US` (what the reference's Jollyday gives in a container's default `en_US` locale).
`subDivision` an ISO 3166-2 subdivision code, with or without the country (`BE` or `DE-BE` for Berlin); a
date is a holiday of a subdivision when it is one of its country's that the subdivision keeps, or its own.
Both may be templates; a literal country or subdivision the calendars do not know is refused when the flow
loads, a rendered one fails the check (`ConditionError`)."""

from __future__ import annotations

import os
from functools import lru_cache

import holidays
from pydantic import model_validator

from conveyor.common.render import is_template
from conveyor.common.triggers.condition_base import Check, ConditionError, names
from conveyor.common.triggers.schedule_conditions import TRIGGER_DATE, ScheduleCondition

FALLBACK_COUNTRY = "US"


class PublicHoliday(ScheduleCondition):
    """The date is a public holiday of `country` (and `subDivision`)."""

    type_names = names("PublicHoliday")
    date: str = TRIGGER_DATE
    country: str | None = None
    sub_division: str | None = None

    @model_validator(mode="after")
    def _known(self) -> PublicHoliday:
        country, sub = self.country, self.sub_division
        if (country is None or not is_template(country)) and (sub is None or not is_template(sub)):
            problem = calendar_problem(country or default_country(), sub)
            if problem:
                raise ValueError(problem)
        return self

    def holds(self, check: Check) -> bool:
        day = check.local_date(self.date)
        country = check.text(self.country, "country").strip() if self.country else default_country()
        sub = check.text(self.sub_division, "subDivision").strip() if self.sub_division else None
        problem = calendar_problem(country, sub)
        if problem:
            raise ConditionError(problem)
        return day in holiday_dates(*_codes(country, sub), day.year)


def default_country() -> str:
    """The country of the process's locale (`LC_ALL`, `LC_TIME`, then `LANG`: `fr_FR.UTF-8` → FR), else `US`."""
    for variable in ("LC_ALL", "LC_TIME", "LANG"):
        territory = os.environ.get(variable, "").split(".")[0].split("@")[0].partition("_")[2]
        if len(territory) == 2 and territory.isalpha():
            return territory.upper()
    return FALLBACK_COUNTRY


def _codes(country: str, sub: str | None) -> tuple[str, str | None]:
    country = country.upper()
    if sub is None:
        return country, None
    sub = sub.upper()
    return country, sub[len(country) + 1 :] if sub.startswith(country + "-") else sub


@lru_cache(maxsize=256)
def calendar_problem(country: str, sub: str | None) -> str | None:
    """Why the calendars cannot answer for `country`/`sub` (None when they can)."""
    code, subdivision = _codes(country, sub)
    supported = holidays.list_supported_countries()
    if code not in supported:
        return f"country: {country!r} is not a country the public holiday calendars know (ISO 3166-1 alpha-2, e.g. FR)"
    if subdivision is not None and subdivision not in supported[code]:
        known = ", ".join(supported[code]) or "none"
        return f"subDivision: {sub!r} is not a subdivision of {code} the calendars know (known: {known})"
    return None


@lru_cache(maxsize=1024)
def holiday_dates(country: str, sub: str | None, year: int) -> frozenset[object]:
    """The public holidays of a year, computed once per (country, subdivision, year): a frozen set the
    scheduler's threads may share."""
    return frozenset(holidays.country_holidays(country, subdiv=sub, years=year).keys())
