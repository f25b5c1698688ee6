"""Reports over several billing periods: the cabinet details one calendar month at a time, so
a longer period is the months' files joined, in order (PDF pages after each other, XLSX one
sheet per month, named ``2025-01``)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence

from aggregator import ParseError
from aggregator.core.models import ReportFormat

__all__ = ["join_files", "months_between"]


def months_between(start: dt.date, end: dt.date) -> list[dt.date]:
    """The first days of the months from ``start``'s to ``end``'s, in order."""
    out, month = [], start.replace(day=1)
    while month <= end:
        out.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return out


def join_files(fmt: ReportFormat, parts: Sequence[tuple[dt.date, bytes]]) -> bytes:
    """One file of the months' files ``(month, content)``, in order."""
    if len(parts) == 1:
        return parts[0][1]
    try:
        if fmt is ReportFormat.PDF:
            return _join_pdf([content for _, content in parts])
        return _join_xlsx(parts)
    except ParseError:
        raise
    except Exception as exc:  # a damaged file from the operator: the library's own error
        raise ParseError(f"bashtel: the monthly {fmt.value} files cannot be joined") from exc


def _join_pdf(contents: Sequence[bytes]) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for content in contents:
        writer.append(io.BytesIO(content))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _join_xlsx(parts: Sequence[tuple[dt.date, bytes]]) -> bytes:
    from openpyxl import Workbook, load_workbook

    joined = Workbook()
    joined.remove(joined.active)
    for month, content in parts:
        source = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        for index, sheet in enumerate(source.worksheets):
            title = f"{month:%Y-%m}" + (f" ({index + 1})" if index else "")
            target = joined.create_sheet(title=title)
            for row in sheet.iter_rows(values_only=True):
                target.append(list(row))
        source.close()
    out = io.BytesIO()
    joined.save(out)
    return out.getvalue()
