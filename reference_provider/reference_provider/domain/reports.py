"""Spending-detail reports as real files: PDF (fpdf2) and XLSX (openpyxl).

The PDF uses DejaVu Sans when a copy exists under /usr/share/fonts (Cyrillic text); without it
the text is transliterated to Latin and set in a core font, so a report is always produced.
"""

from __future__ import annotations

import datetime as dt
import functools
import glob
import io
import zlib
from collections.abc import Sequence

from .models import Account, CallRecord, LedgerEntry
from .money import rub

__all__ = ["call_records", "pdf_report", "xlsx_report"]

_TRANSLIT = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        [
            "a",
            "b",
            "v",
            "g",
            "d",
            "e",
            "e",
            "zh",
            "z",
            "i",
            "y",
            "k",
            "l",
            "m",
            "n",
            "o",
            "p",
            "r",
            "s",
            "t",
            "u",
            "f",
            "kh",
            "ts",
            "ch",
            "sh",
            "shch",
            "",
            "y",
            "",
            "e",
            "yu",
            "ya",
        ],
        strict=False,
    )
)


@functools.cache
def dejavu_path() -> str | None:
    preferred = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    found = [preferred, *sorted(glob.glob("/usr/share/fonts/**/DejaVuSans.ttf", recursive=True))]
    for path in found:
        try:
            with open(path, "rb"):
                return path
        except OSError:
            continue
    return None


def transliterate(text: str) -> str:
    out = []
    for ch in text:
        low = ch.lower()
        if low in _TRANSLIT:
            t = _TRANSLIT[low]
            out.append(t.capitalize() if ch != low else t)
        elif ord(ch) < 128:
            out.append(ch)
        elif ch == "₽":
            out.append("RUB")
        else:
            out.append("?")
    return "".join(out)


def _same(text: str) -> str:
    return text


def call_records(
    acc: Account, start: dt.date, end: dt.date, until: dt.datetime
) -> list[CallRecord]:
    """Deterministic calls and SMS of a mobile or landline account (empty for others)."""
    if acc.kind not in ("mobile", "landline"):
        return []
    from .clock import MSK

    out: list[CallRecord] = []
    day = max(start, acc.opened)
    while day <= end:
        h = zlib.crc32(f"calls:{acc.id}:{day.isoformat()}".encode())
        for i in range(h % 4):
            g = zlib.crc32(f"{h}:{i}".encode())
            at = dt.datetime(day.year, day.month, day.day, 8 + g % 14, g % 60, tzinfo=MSK)
            if at > until:
                break
            peer = f"9{g % 1_000_000_000:09d}"
            if acc.kind == "mobile" and i == 2:
                out.append(CallRecord(at, "sms", peer, 0, 1, 0))
            else:
                seconds = 10 + g % 600
                cost = 0 if acc.kind == "mobile" else (seconds // 60 + 1) * 150
                out.append(CallRecord(at, "call", peer, seconds, 0, cost))
        day += dt.timedelta(1)
    return out


def _money(kopecks: int) -> str:
    return f"{rub(kopecks):,.2f}".replace(",", " ").replace(".", ",")


def pdf_report(
    title: str,
    acc: Account,
    start: dt.date,
    end: dt.date,
    entries: Sequence[LedgerEntry],
    calls: Sequence[CallRecord],
    opening: int,
    closing: int,
) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    font = dejavu_path()
    if font:
        pdf.add_font("DejaVu", "", font)
        pdf.set_font("DejaVu", size=10)

        t = _same
    else:
        pdf.set_font("Helvetica", size=10)
        t = transliterate
    pdf.set_font_size(14)
    pdf.cell(0, 8, t(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font_size(10)
    pdf.cell(0, 6, t(f"Лицевой счёт: {acc.number}"), new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 6, t(f"Период: {start:%d.%m.%Y} – {end:%d.%m.%Y}"), new_x="LMARGIN", new_y="NEXT")
    pdf.cell(
        0,
        6,
        t(f"Баланс на начало: {_money(opening)} ₽; на конец: {_money(closing)} ₽"),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(3)
    widths = (35, 115, 35)
    for w, head in zip(widths, ("Дата", "Операция", "Сумма, ₽"), strict=True):
        pdf.cell(w, 7, t(head), border=1)
    pdf.ln()
    for e in entries:
        pdf.cell(widths[0], 6, f"{e.at:%d.%m.%Y %H:%M}", border=1)
        pdf.cell(widths[1], 6, t(e.description[:60]), border=1)
        pdf.cell(widths[2], 6, _money(e.amount), border=1, align="R")
        pdf.ln()
    if calls:
        pdf.ln(4)
        pdf.cell(0, 7, t("Детализация звонков и SMS"), new_x="LMARGIN", new_y="NEXT")
        for c in calls:
            what = "SMS" if c.kind == "sms" else f"Звонок {c.seconds} с"
            pdf.cell(
                0,
                6,
                t(f"{c.at:%d.%m.%Y %H:%M}  +7{c.peer}  {what}  {_money(c.cost)} ₽"),
                new_x="LMARGIN",
                new_y="NEXT",
            )
    return bytes(pdf.output())


def xlsx_report(
    title: str,
    acc: Account,
    start: dt.date,
    end: dt.date,
    entries: Sequence[LedgerEntry],
    calls: Sequence[CallRecord],
    opening: int,
    closing: int,
) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Начисления и платежи"
    ws.append([title])
    ws.append(["Лицевой счёт", acc.number])
    ws.append(["Период", start.isoformat(), end.isoformat()])
    ws.append(["Баланс на начало", float(rub(opening))])
    ws.append(["Баланс на конец", float(rub(closing))])
    ws.append([])
    ws.append(["Дата", "Операция", "Сумма, ₽"])
    for e in entries:
        ws.append([e.at.replace(tzinfo=None), e.description, float(rub(e.amount))])
    if calls:
        cs = wb.create_sheet("Звонки и SMS")
        cs.append(["Дата", "Номер", "Тип", "Длительность, с", "Стоимость, ₽"])
        for c in calls:
            cs.append(
                [c.at.replace(tzinfo=None), f"+7{c.peer}", c.kind, c.seconds, float(rub(c.cost))]
            )
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
