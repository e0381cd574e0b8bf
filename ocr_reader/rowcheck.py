"""Compare the row reader's reading of a strip with the wheels the wheel recogniser read in it.

The row reader (rowread.py) reads the whole window and a pitch beyond each end without being told
where the wheels are. Its characters are matched to the wheel centres by position: a character
within half a pitch of a wheel is that wheel's second opinion; characters beyond the first or last
wheel are wheels the chain did not hold (a leading wheel dropped, a last wheel the text detector
left out, decimals beyond the black wheels); a wheel without a character was not seen as one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ocr_reader.rowread import RowChar, RowReading, shown_digits

MATCH_PITCHES = 0.5  # a character this close to a wheel centre (in pitches) is that wheel's reading


@dataclass
class RowCheck:
    """How the row reader's reading and the wheels' digits compare."""

    matched: list[RowChar | None]  # per wheel, the character read at its place (None: none)
    left: list[RowChar] = field(default_factory=list)  # characters before the first wheel
    right: list[RowChar] = field(default_factory=list)  # characters after the last wheel
    inside: int = 0  # characters between wheels that no wheel claims (a split the two disagree on)
    differ: list[int] = field(default_factory=list)  # wheels whose shown digit the row reader does not read
    confidence: float = 0.0  # the least sure matched character's probability
    reading: RowReading | None = None  # everything the row reader read in the strip

    @property
    def complete(self) -> bool:
        """Every wheel has a character, and no character is left over anywhere."""
        return all(m is not None for m in self.matched) and not (self.left or self.right or self.inside)

    @property
    def agrees(self) -> bool:
        """The row reader reads the same wheels showing the same digits."""
        return self.complete and not self.differ


def compare(
    reading: RowReading, centres_px: list[float], pitch_px: float, width_px: float, digits: list[int]
) -> RowCheck:
    """Match the row reading (characters at x_frac of a strip width_px wide) to wheel centres."""
    matched: list[RowChar | None] = [None] * len(centres_px)
    check = RowCheck(matched, reading=reading)
    for ch in reading.chars:
        x = ch.x_frac * width_px
        dist = [abs(x - c) for c in centres_px]
        i = min(range(len(dist)), key=dist.__getitem__) if dist else -1
        if i >= 0 and dist[i] <= MATCH_PITCHES * pitch_px and matched[i] is None:
            matched[i] = ch
        elif centres_px and x < centres_px[0]:
            check.left.append(ch)
        elif centres_px and x > centres_px[-1]:
            check.right.append(ch)
        else:
            check.inside += 1
    for i, (m, d) in enumerate(zip(matched, digits, strict=True)):
        if m is not None and d not in shown_digits(m.cls):
            check.differ.append(i)
    check.confidence = min((m.prob for m in matched if m is not None), default=0.0)
    return check
