"""Clock times: orplan keeps times as minutes after midnight and shows them as HH:MM."""


def hhmm(minutes: float) -> str:
    total = int(round(minutes))
    return f"{total // 60:02d}:{total % 60:02d}"
