"""pyparsing expressions for log lines; importable and testable alone.

A line is first split into its number tokens and the text between them (its *shape*).
The grammar below runs on the shape, where every number has been replaced by the
placeholder character ``HOLE``, so that one parse serves every line of the same shape.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pyparsing as pp

from gradlog import lazy
from gradlog.parse.names import MINUS_LOG

HOLE = "\x00"

# Units that may stick to a number (``4s``, ``8ms/step``, ``31.42GiB``, ``2.18it/s``),
# PaddleOCR's ``x`` padding (``nanxxx``) and llm.c's z-score suffix (``+0.53z``).
_UNIT = r"(?:%|x+|z|[a-zA-Z]{1,3}(?:/[a-zA-Z]{1,4})?)?"
# The scripts written without blanks between words (Chinese, Japanese, Korean): a
# number may touch them (``第1轮``, ``121.3秒``) and is still a number.
CJK = "\u2e80-\u2fdf\u3040-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
# A letter or digit of any script but those, or ``_``: what a number must not touch.
_WORDLIKE = rf"[^\W{CJK}]"
# A number in any usual notation, plus NaN/Inf spellings (Lightning prints ``nan.0``).
_NUMBER = (
    rf"(?<![.@#])(?<!{_WORDLIKE})(?<!\d,)"
    # A digit or two hyphened to a word with a value after them end a name (``top-5
    # 91.2``, ``BLEU-4: 30.1``, ``ROUGE-1=0.41``): they are no number (``-5``) of their own.
    r"(?!(?<=[^\W\d_]-)\d{1,2}(?:\s*[:=]\s*|\s+)[-+]?\.?\d)"
    r"(?P<num>[-+]?(?:"
    # Thousands grouped by commas or underscores (``1,000.5``, ``1_000``), read whole.
    r"\d{1,3}(?:,\d{3})+(?!\d|,\d)(?:\.\d+)?|\d{1,3}(?:_\d{3})+(?:\.\d+)?"
    # MSVC's printf spellings of non-finite values: ``1.#INF``, ``-1.#IND``, ``1.#QNAN``.
    r"|\d\.#(?:INF|IND|QNAN|SNAN)\d*"
    # An integer glued by a comma to more digits that make no thousands group (``1,5``, a
    # decimal comma; ``1,0000``) is read not at all, rather than as its first digits.
    r"|(?:\d+(?:\.\d*|(?!,\d))|\.\d+)(?:[eE][-+]?\d+)?"
    # Megatron's "number of nan iterations: 0" uses nan as a word, not a value.
    # A NaN or Inf spelling takes no letters after it but PaddleOCR's ``x`` padding: ``info``
    # and ``inference`` are words. YAML spells them with a point first (``.nan``, ``-.inf``).
    r"|\.?(?i:nan|inf(?:inity)?)(?:\.0)?(?! iterations)(?![a-wyzA-WYZ/])))"
    # The next name glued to the value, its separator after it (Pyraformer's ``MSE:
    # 0.57322elapse: 0.323 min``, a print that lost its blank): the value ends there.
    r"(?:(?=[A-Za-z]{4,}\w*\s*[:=]\s*[-+.\d])|"
    + _UNIT
    # Not part of a longer word or a version (``1.2.3``); a sentence's full stop may follow,
    # and an ellipsis (Udacity's char-RNN ``Step: 10... Loss: 3.5495...``, its AIPND's
    # ``Train loss: 4.419.. Validation loss: 3.596..``).
    + rf"(?!{_WORDLIKE}|@|\.(?!\.{{1,2}}(?:\s|$))[\w.]))"
)


class _Numbers:
    """``_NUMBER`` compiled, as ``re.Pattern``'s methods the reader uses. ASCII text
    (nearly every line) is read by the pattern with plain word boundaries, the same there
    and ten times cheaper to compile (the CJK ranges cost ~2 ms, compiled only when a line
    needs them)."""

    def __init__(self) -> None:
        self._ascii = lazy.regex(_NUMBER.replace(_WORDLIKE, r"\w"))
        self._any = lazy.regex(_NUMBER)

    def _for(self, text: str) -> re.Pattern[str]:
        return self._ascii if text.isascii() else self._any

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        return self._for(text).finditer(text)

    def search(self, text: str) -> re.Match[str] | None:
        return self._for(text).search(text)

    def fullmatch(self, text: str) -> re.Match[str] | None:
        return self._for(text).fullmatch(text)

    def split(self, text: str, maxsplit: int = 0) -> list[str | Any]:
        return self._for(text).split(text, maxsplit)


NUMBER_RE = _Numbers()

hole = pp.Literal(HOLE).set_name("hole")
_quote = pp.Opt(pp.one_of("' \"")).suppress()

# A value's wrapper: ``np.float32(``, ``tensor(``, ``Array(``, ``tf.Tensor(``; never a key's word
# (``loss tensor(0.69)`` is ``loss`` and its value).
_WRAPPED = r"(?:(?:np|numpy|jnp)\.\w+\(|(?:torch\.)?tensor\(|[Aa]rray\(|tf\.Tensor\()"

# A key is one or more words (``Train Loss``, ``number of skipped iterations``, ``训练损失``)
# or a quoted string (``'eval_loss'``); a word may end in a parenthesised unit (``time (ms)``).
# A word opens with a letter of any script, or digits glued to one (``3d_loss``; not a
# number's last digits, ``3456.0average``), or a minus before a log (GANF's ``-log_prob``:
# the negative log-likelihood).
key_word = pp.Regex(
    rf"(?!(?:is|was|went|became|becomes|reached)\b|{_WRAPPED})"
    rf"(?:(?<!-){MINUS_LOG})?(?:(?<![\w.])\d+)?"
    r"[^\W\d][\w.\-/@]*(?:\s?\([\w.\-/ ]*\))?"
).set_name("key word")
# At most 12 words: the longest real key has 5 (``number of skipped iterations``), and a
# bound keeps the scan of a long run of words linear (a key is tried at each word).
_MORE_WORDS = 11
bare_key = pp.Combine(key_word + (pp.White(" \t") + key_word)[0, _MORE_WORDS]).set_name("key")
quoted_key = (pp.QuotedString("'") | pp.QuotedString('"')).set_name("quoted key")
key = (quoted_key | bare_key)("key")

# Sentence forms join a name to its value with a verb: ``Loss is NaN``, ``loss went to nan``,
# or an arrow: ``loss -> 0.5``, nanoT5's ``Loss --> 64.049``, ``loss => 0.5``, ``loss → 0.5``.
# These words never start a key (see ``key_word``).
_VERB = r"(?:is|was|went to|became|becomes|reached|-{1,2}>|=>|\u2192)"
# A dash between blanks, right before a value that ends a pair: segmentation_models_
# pytorch's ``dice_loss - 0.4123, iou_score - 0.5012`` (not Keras's `` - loss: 0.3``, where
# a name follows it, nor its ``712ms/epoch - 2ms/step``).
_DASH = r"-(?=\s+" + HOLE + r"\s*(?:[,;\]|]|$))"
separator = (pp.Regex(_VERB + r"(?=\s|$)") | pp.Regex(_DASH) | pp.one_of(": = :=")).set_name(
    "separator"
)
# ``lr=[1.9e-05]`` (DeepSpeed), ``epoch: [12/500]`` (PaddleOCR), ``np.float32(0.21)`` (TF),
# ``tensor(nan, device='cuda:0')`` and ``tensor([0.52])`` (torch), ``Array(0.5,
# dtype=float32)`` (JAX), ``array(np.float32(3.5), dtype=float32)`` (numpy, nested),
# ``tf.Tensor(0.5, shape=(), dtype=float32)``, ``Loss: <1.57>`` (MADlib), Markdown's
# ``loss: **0.41**`` and ``loss: `0.41` ``.
_wrapper = pp.Opt(pp.Regex(rf"\[|<|\*\*|`|(?:{_WRAPPED}\[*)+")).suppress()
value = (
    _wrapper
    + _quote
    + hole("value").set_parse_action(lambda s, loc, toks: loc)
    + _quote
    + pp.Opt(
        pp.Suppress(pp.Opt(pp.White()) + "/")
        + hole("total").set_parse_action(lambda s, loc, toks: loc)
    )
)
pair = pp.Group(key + pp.Opt(separator("sep")) + value).set_name("key-value pair")

# ``{'loss': ...}`` and ``{"loss": ...}``: a Python or JSON dict of metrics.
DICT_OPEN = lazy.regex(r"\{\s*['\"]")
dict_open = pp.Regex(DICT_OPEN.pattern).set_name("dict start")

# Every digit made 0: the key of a line's layout. The grammar, the dialect signatures and
# the event patterns read all digits alike, so lines that differ only in digits share it.
DIGITS = str.maketrans("123456789", "000000000")
# The same for a line encoded to bytes (bytes translate far faster than str): the key of
# the reader's compiled layouts.
BYTE_DIGITS = bytes.maketrans(b"123456789", b"000000000")


# A rank's tag opening a line as ``clean`` reads it (``[rank3]:``, ``[default3]:``,
# ``[1,3]<stdout>:``, ``[Rank 3]``, ``[GPU3]``), in a line's bytes with their digits made
# 0. The layout of such a line keeps the tag's digits (``layout``): lines of two ranks
# share every other byte, and only one rank's lines are read, so a layout must say which
# rank printed it.
_RANK_TAG = lazy.regex(
    rb"\s*(?:\[(?:rank|default)0+\]:|\[0+,0+\]<std(?:out|err)>:|\[(?i:rank|gpu) ?0{1,4}\]:?)"
)
TAG_FIRST = b"[ \t\n\r\x0b\x0c"  # the bytes a tag may open a line with


def layout(data: bytes) -> bytes:
    """The layout of a line (its UTF-8 ``data``): its digits made 0, but those of the
    rank's tag it opens with (``ranked``)."""
    masked = data.translate(BYTE_DIGITS)
    if masked[:1] in TAG_FIRST:
        return ranked(data, masked)[0]
    return masked


def ranked(data: bytes, masked: bytes) -> tuple[bytes, bytes | None]:
    """``masked`` (``data`` with its digits made 0) with the digits of the rank's tag it
    opens with restored, and the tag as printed; unchanged and None when it opens with
    none, or with one that ``clean`` may read otherwise (a backspace or a redraw in the
    line may rewrite it)."""
    match = _RANK_TAG.match(masked)
    if match is None or b"\b" in data or b"\r" in data.rstrip(b"\r"):
        return masked, None
    end = match.end()
    return data[:end] + masked[end:], data[:end]


def mask_digits(text: str) -> str:
    """``text`` with every digit made 0 (its layout). ASCII text goes through bytes,
    several times faster than ``str.translate``, to the same string."""
    if text.isascii():
        return text.encode("ascii").translate(BYTE_DIGITS).decode("ascii")
    return text.translate(DIGITS)
