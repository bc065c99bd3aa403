"""Language identification for ``POST /detect`` and ``source: "auto"``: langdetect (the port of
Google's language-detection that LibreTranslate uses; offline, its profiles ship in the wheel).

langdetect samples n-grams at random: ``DetectorFactory.seed = 0`` makes it deterministic (the
same text always gets the same answer). Several texts are combined as LibreTranslate does: each
text's candidates weighted by its length, averaged per language. Confidences are percentages
(0-100), best first; langdetect reports candidates above its own 0.1 threshold only.
"""

from __future__ import annotations

import threading

from bertune_cli.serve.errors import ApiError

_LOCK = threading.Lock()
_READY = False
# langdetect's codes that are not plain ISO 639-1
_CODES = {"zh-cn": "zh", "zh-tw": "zt"}


def _detector():
    global _READY
    try:
        import langdetect
    except ImportError as exc:
        raise ApiError(
            501,
            "language detection needs the langdetect package: pip install 'bertune[serve]'",
            "detection_unavailable",
        ) from exc
    with _LOCK:
        if not _READY:
            langdetect.DetectorFactory.seed = 0
            langdetect.detector_factory.init_factory()  # loads the profiles once
            _READY = True
    return langdetect


def detect_languages(texts: list[str]) -> list[dict]:
    """``[{"confidence": 0-100, "language": code}, ...]``, best first, for ``texts`` together;
    ``[]`` when no text has anything to go on (digits, punctuation, emoji only)."""
    langdetect = _detector()
    weights: dict[str, float] = {}
    total = 0
    for text in texts:
        try:
            found = langdetect.detect_langs(text)
        except langdetect.LangDetectException:  # no letters to go on
            continue
        total += len(text)
        for candidate in found:
            code = _CODES.get(candidate.lang, candidate.lang)
            weights[code] = weights.get(code, 0.0) + candidate.prob * len(text)
    if not total:
        return []
    ranked = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))
    return [{"confidence": round(100.0 * w / total, 2), "language": code} for code, w in ranked]
