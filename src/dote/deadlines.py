"""Legal time limits: a month from a day, working days, and hours from a moment.

The GDPR does not say how its periods are counted; Union law counts them by Regulation
(EEC, Euratom) No 1182/71 of the Council of 3 June 1971 determining the rules applicable
to periods, dates and time limits:

* art. 3(1), second subparagraph: a period expressed in days, weeks, months or years and
  calculated from an event does not count the day of the event;
* art. 3(2)(c): a period in months ends with the expiry of the last hour of the day of the
  last month that falls on the same date as the day from which the period runs; if that
  date does not occur in the last month, with the last day of that month (31 January
  plus one month is 28 February, or 29 in a leap year);
* art. 3(4): where the last day of a period expressed *otherwise than in hours* is a
  public holiday, a Sunday or a Saturday, the period ends with the expiry of the last
  hour of the following working day. Public holidays are those of the Member State
  concerned (art. 2(1)): for France, the eleven of the code du travail, art. L3133-1
  (Alsace-Moselle's two more, art. L3134-13, are not counted here);
* art. 3(1), first subparagraph, and 3(2)(a): a period in hours does not count the hour
  during which the event occurs. The 72 hours of GDPR art. 33(1) are counted here from
  the very minute of awareness (72 elapsed hours): an earlier limit than the regulation's,
  so that a notification made by it is in time under either reading. Art. 3(4) does not
  apply to a period in hours: a weekend never extends the 72 hours.

The one-month answer of GDPR art. 12(3) is therefore shown twice: the *calendar* day
(the same date, or the month's last day), which is the target, and the *legal* last day
(the next working day when the calendar day is a Saturday, a Sunday or a public holiday),
after which an answer is late.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import zoneinfo

TIMEZONE = "Europe/Paris"
#: GDPR art. 33(1): notification to the supervisory authority within 72 hours of awareness.
BREACH_HOURS = 72


def add_months(day: dt.date, months: int) -> dt.date:
    """The same date ``months`` later, or that month's last day (1182/71, art. 3(2)(c))."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@functools.cache
def easter(year: int) -> dt.date:
    """Easter Sunday of the Gregorian calendar (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month = (h + ell - 7 * m + 114) // 31
    return dt.date(year, month, (h + ell - 7 * m + 114) % 31 + 1)


@functools.cache
def public_holidays(year: int) -> frozenset[dt.date]:
    """France's public holidays of a year (code du travail, art. L3133-1)."""
    sunday = easter(year)
    fixed = [(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)]
    movable = [sunday + dt.timedelta(days=n) for n in (1, 39, 50)]  # Easter Monday, Ascension, Whit Monday
    return frozenset([dt.date(year, m, d) for m, d in fixed] + movable)


def is_working_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in public_holidays(day.year)


def next_working_day(day: dt.date) -> dt.date:
    """``day`` itself when it is a working day, else the next one (1182/71, art. 3(4))."""
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    return day


def month_deadline(received: dt.date, months: int = 1) -> tuple[dt.date, dt.date]:
    """A period of ``months`` from a day: (calendar last day, legal last day).

    The legal last day is the calendar one moved to the next working day when it falls
    on a Saturday, a Sunday or a public holiday (1182/71, art. 3(4)).
    """
    end = add_months(received, months)
    return end, next_working_day(end)


def paris(moment: dt.datetime) -> dt.datetime:
    """A moment as an aware time in Europe/Paris (a naive one is read as Paris time)."""
    zone = zoneinfo.ZoneInfo(TIMEZONE)
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment.astimezone(zone)


def hours_deadline(start: dt.datetime, hours: int = BREACH_HOURS) -> dt.datetime:
    """``hours`` elapsed hours after ``start``, in Paris time (a change of clock is counted)."""
    begin = paris(start)
    end = begin.astimezone(dt.UTC) + dt.timedelta(hours=hours)
    return end.astimezone(begin.tzinfo)


DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


def date_fr(day: dt.date, weekday: bool = False) -> str:
    """``15 mars 2025`` (``samedi 15 mars 2025`` with ``weekday``)."""
    from dote.fragments import date_fr as words  # the site's one way of writing a date

    text = words(day)
    return f"{DAYS[day.weekday()]} {text}" if weekday else text


def moment_fr(moment: dt.datetime) -> str:
    """``15 mars 2025 à 14 h 05`` in Paris time."""
    local = paris(moment)
    return f"{date_fr(local.date())} à {local.hour} h {local.minute:02d}"
