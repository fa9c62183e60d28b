"""Text in, text out: undo terminal redraws and strip decoration; knows nothing of metrics."""

from __future__ import annotations

import re
from operator import sub
from typing import NamedTuple

from gradlog import lazy

# CSI sequences (colours, cursor moves, erase), OSC titles and other two-byte escapes.
_ANSI = lazy.regex(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
# Pasted logs that lost their ESC byte keep bare SGR codes such as ``[1m`` or ``[0m``.
_BARE_SGR = lazy.regex(r"\[\d{1,3}(?:;\d{1,3})*m")
_QUOTE = lazy.regex(r"^(?:\s{0,3}>)+ ?")
_FENCE = lazy.regex(r"^\s*(?:```|~~~)")
# A fence's info string: a program's language makes what it fences code, not log (an
# issue that shows the training script beside its output). ``text``, ``log``, ``console``,
# ``bash``, ``json`` and none fence output or data: their lines are read.
_FENCE_INFO = lazy.regex(r"^\s*(?:>\s*)*(?:```|~~~)\s*\{?\.?(?P<info>[\w+#.-]*)")
_CODE_LANGUAGES = frozenset(
    (
        *("python", "py", "python3", "py3", "ipython", "ipython3", "pycon", "cython"),
        *("c", "cpp", "c++", "cc", "h", "hpp", "cuda", "cu", "java", "kotlin", "scala"),
        *("js", "javascript", "ts", "typescript", "rust", "rs", "go", "r", "julia", "jl"),
        *("lua", "swift", "sql", "yaml", "yml", "toml", "ini", "cfg", "diff", "patch"),
        *("dockerfile", "makefile", "cmake", "matlab", "octave", "haskell", "ocaml", "elixir"),
    )
)


# A program's output inside its code, as literate tools print it: knitr's and reprex's
# ``#>`` before each line a program printed (``##`` too in R's code; in Python's it opens
# a comment), and a Python console's lines that are no prompt (``>>>``, ``...``).
_OUTPUT_MARKS = {
    "code": lazy.regex(r"^#>(?: |$)"),
    "r": lazy.regex(r"^#[#>](?: |$)"),
}
_PROMPT = lazy.regex(r"^(?:>>>|\.\.\.)(?: |$)")
_FENCED = {"r": "r", "pycon": "console"}  # fences whose output is told apart from code


class Fences:
    """Which lines of a pasted log are code: those inside a fence opened with a program's
    language (``python``), up to the fence that closes it, but for the output printed
    among them (knitr's ``#>``, a Python console's). Fed every line in order."""

    def __init__(self) -> None:
        # "code" ("r": R's), "console" or "text" inside a fence, None outside
        self.open: str | None = None

    def touches(self, text: str) -> bool:
        """Whether ``text`` (a line, or lines joined) may be changed by ``read``: inside a
        fence, or holding one. (A search for one character is 20x faster than for three:
        ``~`` is rarer.)"""
        return self.open is not None or "`" in text or ("~" in text and "~~~" in text)

    def read(self, line: str) -> str:
        """``line`` as it is read: "" for a fence's own line or a line of code (two
        character searches for a line outside any fence, as most are); a program's
        output among its code without its mark."""
        if "`" in line or "~" in line:
            found = _FENCE_INFO.match(line)
            if found is not None:
                if self.open is None:
                    info = found["info"].lower()
                    code = "code" if info in _CODE_LANGUAGES else "text"
                    self.open = _FENCED.get(info, code)
                else:
                    self.open = None
                return ""
        marks = _OUTPUT_MARKS.get(self.open) if self.open is not None else None
        if marks is not None:
            mark = marks.match(line)
            return "" if mark is None else line[mark.end() :]
        if self.open == "console":
            return "" if _PROMPT.match(line) else line
        return line


_CONTROL = lazy.regex(r"[\x00-\x08\x0b-\x1f\x7f]")
# A blank state after a redraw: only whitespace (as ``str.strip`` sees it) up to the next.
_BLANK_STATE = lazy.regex(r"\r\s*(?=\r|\Z)")
_FIRST_DIGIT = lazy.regex(r"\d")
_LETTER = lazy.regex(r"[^\W\d_]")
_NUMBER_RUN = lazy.regex(r"\d+(?:[.:]\d+)*")
_OPENING = 4  # characters of a line's opening words that may recur as glued states
# A coefficient in a formula (torchdistill's ``Loss = 1.0 * OrgLoss``, ``loss = 0.5 * ce +
# 0.5 * kl``): a weight that multiplies a named term is no reading of the name before it.
# A real number (a product of whole numbers is of settings: llm.c's ``B=32 * seq_len
# T=1024``), after ``=``, ``:``, ``(``, ``+`` or ``,`` (not a count's ``1/15 * Epoch``).
_COEFFICIENT = lazy.regex(
    r"(?:(?<=[=:(+,])|(?<=[=:(+,] ))[-+]?\d*(?:\.\d+(?:[eE][-+]?\d+)?|\d[eE][-+]?\d+)"
    r"\s*\*\s*(?=[^\W\d])"
)
# Read through cp1252, UTF-8 bar blocks become mojibake ("\u00e2\u2013\u02c6" for a full
# block): bar debris, never data.
_MOJIBAKE = lazy.regex("\u00e2\u2013[\u0080-\u02ff\u2000-\u20ff]?")
# A user's note after a pasted line: ``... loss nan   <-- explodes here``. Tried only
# where a run of spaces starts: from inside one it would rescan the rest of the run.
_COMMENT = lazy.regex(r"(?<!\s)\s+(?:<-+|←+)\s.*$")
# A tqdm bar's percentage and bar, ``42%|████▏     |``: its digits are progress, not data
# (the ``n/N`` counter and the postfix after it are kept for the dialects that read them).
# Never across a ``\r``: every state of a redrawn line can be cut at once. The rule is
# this pattern; ``_unbarred`` applies it by searching for ``%|`` (tests hold the two equal).
TQDM_BAR = lazy.regex(r"\d{1,3}%\|[^|\r]{0,100}\|")
_BAR_LONGEST = 100  # characters between a bar's two | (as in TQDM_BAR)
_BAR_TAIL = lazy.regex(r"%\|[^|\r]{0,100}\|")  # TQDM_BAR without its digits
_DIGITS = "0123456789"
# Keras glues callback messages to the bar: ``loss: 2.1307Batch 36: Invalid loss``.
_GLUED = lazy.regex(r"(?<=\d)(?=(?:Batch \d+: Invalid loss|Epoch \d+:))")
# A rate printed after its number, as its unit (Sockeye's ``Speed: 420.32 samples/sec
# 12308.00 tokens/sec 3.12 updates/sec\tperplexity=..``): it names no number after it
# (nor joins the next name), so it is cut.
_RATE_AFTER = lazy.regex(r"(?<=\d) +[A-Za-z]+/(?:s|sec|second)s?\b(?!\s*[:=])")
# A number with a magnitude's letter (LeRobot's ``step:1K smpl:10K``, ``tokens 1.2M``):
# the number it stands for. Not a name's part (``Llama-3B``, ``x4K``) nor a unit of
# bytes, minutes or metres (``1.5G``, ``5m``, ``2b``).
_MAGNITUDE = lazy.regex(r"(?<![\w.\-])(\d+(?:\.\d+)?)([kKMB])(?![\w.])")
_MAGNITUDES = {"k": 1e3, "K": 1e3, "M": 1e6, "B": 1e9}
# A Float32 literal as Julia prints one (``9.901898f-5``): its exponent's mark is ``f``.
_FLOAT32 = lazy.regex(r"(?<![\w.])(\d+\.\d+)f([-+]?\d+)(?![\w.])")
# A number sign glued to a name before its number (dlib's ``step#: 394``): the name's.
_NUMBER_SIGN = lazy.regex(r"(?<=[A-Za-z])#(?=:?\s*\d)")
# A number sign before an axis's number (``Step #12``, ``Epoch #3``, ``Episode #40``,
# VQ-VAE's ``Update # 9150``): the axis's number (another word's, ``GPU #0``, ``Issue
# #7``, stays as it is).
_AXIS_NUMBER_SIGN = lazy.regex(
    r"\b((?i:step|epoch|iter|iteration|batch|episode|round|update)s?) #\s*(?=\d)"
)
# An axis word whose number is a duration (kuangliu's ``Step: 52ms | Tot: 21s``, an
# epoch's ``epoch: 12.3s``): the time it took, named so, never the axis.
_AXIS_DURATION = lazy.regex(
    r"\b((?i:step|iter|iteration|batch|epoch)s?)"
    r"(?=\s*[:=]?\s*\d+(?:\.\d+)?\s?(?:ms|s|secs?|us|µs|min)\b)"
)
_AXIS_WORDS = ("tep", "ter", "atch", "poch", "TEP", "TER", "ATCH", "POCH")
# An axis word glued to its number (NanoDet's ``Train|Epoch1/60|Iter0(1/125)|``).
_AXIS_GLUED = lazy.regex(r"(?<![A-Za-z])(Epoch|Iter)(?=\d)")
# A name glued to its number: an axis's by ``_`` (pytorch-YOLOv4's ``Train step_20:``, not
# a file's ``epoch_3.pth``), a loss's or an accuracy's by nothing (LightGCN's
# ``loss0.504-``): cut apart.
_NAME_GLUED = lazy.regex(
    r"(?<![A-Za-z_])((?i:step|iter|iteration|epoch))_(?=\d+(?:[:,\s]|$))"
    r"|(?<![A-Za-z])((?i:loss|acc|accuracy))(?=\d+\.\d)"
    # and an axis opening the line glued by nothing, as a fixed-width count overflows
    # into it (R's optim trace: ``iter  10 value ..`` then ``iter1000 value ..``)
    r"|^((?i:step|iter|epoch))(?=\d+ +[A-Za-z])"
)
_AXES_OPENING = frozenset({"step", "iter", "epoc"})  # (the first four letters of a line)

# Rank tags: ``[rank0]:``, ``[default0]:`` (torchrun), ``[1,0]<stdout>:`` (Open MPI),
# ``[proc 0]`` (DGL-KE), ``[Rank 0]`` (DeepSpeed's log_dist, hand-written loops), ``[GPU0]``
# (PyTorch's DDP tutorial), ``Rank 0:``, ``GPU 0:``; and bare numbers, ``0: `` (srun) and
# ``[0] `` (MPICH's and Intel MPI's -prepend-rank), which name ranks only once they recur
# (``Segment.tag``).
_RANK = lazy.regex(
    r"^\s*(?:\[(?:rank|default)(?P<a>\d+)\]:|\[proc (?P<d>\d+)\]"
    r"|\[\d+,(?P<b>\d+)\]<std(?:out|err)>:"
    r"|\[(?i:rank|gpu) ?(?P<f>\d{1,4})\]:?|(?i:rank|gpu) ?(?P<g>\d{1,4}): (?=\S)"
    r"|(?P<c>\d{1,4}): (?=[^\d\s-])|\[(?P<e>\d{1,4})\] (?=[^\d\s-])"
    r"|\[rank=(?P<h>\d{1,4})\](?:\s*\|\|)?)\s?"
)
_TIME = r"\d{2}:\d{2}:\d{2}(?:[.,]\d+)?"
_DATE = r"(?:\d{4}[-/]\d{2}[-/]\d{2}|\d{2}/\d{2}(?:/\d{2,4})?|\d{2}-\d{2}|\d{2}\.\d{2}\.\d{4})"
_LEVEL = r"(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL|TRACE|SUCCESS)"
_SECTIONS = r"train|training|val|valid|validation|eval|evaluation|test|dev"  # a section's words
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_WEEKDAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
# Logging prefixes, removed from the start of a line one after another. Their digits are
# dates, line numbers and thread ids: they must never become a step or a metric.
_PREFIX = lazy.regex(
    "|".join(
        f"(?:{p})"
        for p in (
            # [2024-03-05 14:02:11,482], SageMaker's [05/21/2024 10:03:20 INFO 1403188302],
            # and a dash or a bar after it (fast_adversarial's ``[2019/12/20 14:33:14] - ``)
            rf"^\[\s*{_DATE}[ T]{_TIME}Z?(?:\s*{_LEVEL}(?:\s+\d+)?)?\s*\]\s*(?:[|-]\s+)?",
            # a date, a time and a level in one bracket, then anything up to its end:
            # Pointcept's ``[2024-03-02 10:21:31,810 INFO misc.py line 119 812733]``
            rf"^\[\s*{_DATE}[ T]{_TIME}Z?\s[^\]\n]*?\b{_LEVEL}\b[^\]\n]*\]\s*",
            # Determined's envelope: ``[2024-02-13T21:40:57.539712Z] 6b5a3bc1 [rank=0] ||``
            r"^[0-9a-f]{8}\s+(?=\[rank=\d+\])",
            rf"^\[{_DATE} {_TIME} [\w.-]+\]:?\s*",  # [03/14 11:02:37 d2.utils.events]:
            # 2024-02-11 09:14:05 |
            rf"^{_DATE}[ T]{_TIME}(?:Z|[+-]\d{{2}}:?\d{{2}})?\s*(?:[|:-]\s*)?",
            rf"^{_TIME}\s+\|\s+",  # a time alone, then a pipe: ParlAI's ``14:06:11 | valid:``
            # a day, then the month's name: Mocha.jl's ``17-Nov 23:18:53:INFO:root:``,
            # ``06-Dec-2026 10:00:00 -``
            rf"^\d{{1,2}}[- ]{_MONTH}(?:[- ]\d{{2,4}})?[ T]{_TIME}\s*(?:[|:-]\s*)?",
            # a date by the month's name (syslog, journalctl, ts(1), ctime): ``May 01
            # 10:00:00 host python3[4821]:``, ``Thu May  2 10:00:00 2024``
            rf"^(?:{_WEEKDAY}\s+)?{_MONTH}\s+\d{{1,2}}\s+{_TIME}(?:\s+\d{{4}})?"
            r"(?:\s+[\w.-]+\s+[\w./-]+\[\d+\]:)?\s*(?:[|:-]\s+)?",
            # absl: I0318 09:41:22.517338 140227113338688 model_lib_v2.py:705]
            rf"^[IWEF]\d{{4}} {_TIME}\s+\d+ [\w.]+:\d+\]\s*",
            rf"^{_LEVEL}:[\w.]+:",  # INFO:tensorflow:
            # the level, then the logger's name of one word and a dash (pytorch-3dunet's
            # ``INFO UNet3DTrainer - Validation finished. Loss: ..``); not a section's word
            rf"^{_LEVEL}\s+(?!(?i:{_SECTIONS}|testing|epoch|step|iter)\b)[A-Za-z_][\w.]*\s+-\s+(?=\S)",
            rf"^\[?\s*{_LEVEL}\s*\]?\s*(?:[|:-]\s*)?",  # INFO | , [    INFO] - , INFO:
            r"^\[[\w.]+:\d+(?::\w+)?\]\s*",  # [loss_scaler.py:183:update_scale]
            # a bracket holding a time, closed by the source's name and line:
            # NeMo's [NeMo I 2024-03-05 14:02:03 megatron_gpt_pretraining:37]
            rf"^\[[^\]\n]*?{_TIME}[^\]\n]*?\s[\w.<>-]+:\d+\]\s*",
            r"^\([\w.]+(?::| )\d+\):?\s*",  # (trainer:737), (main.py 254):
            # a context of three or more ``key=value`` pairs in brackets, a name among the
            # values (NVFlare's ``[identity=site-1, run=simulate_job, .., task_id=..]:``);
            # not ``[epoch=1, step=100, lr=0.1]`` nor ``[mode=train, step=5]``: readings
            r"^\[(?=[^\]\n]*=[A-Za-z_])(?![^\]\n]*\b(?i:step|epoch|iter|iteration|batch|it)=)"
            r"(?:\s*[\w.-]+=[^\],\[\n]*,){2,}\s*[\w.-]+=[^\],\[\n]*\]:?\s*",
            # [titan], [gpu-node3], [deepspeed]; not a section's word (``[Train](1000/..)``)
            rf"^\[(?!(?i:{_SECTIONS})\])[A-Za-z][\w.-]*\]:?\s*",
            r"^[\w.]+(?::[\w.<>]+)*:\d+\s+-\s+",  # loguru: module:func:42 -
            rf"^[\w.-]+\s+(?:-|\|)\s+{_LEVEL}\s+(?:-|\|)\s+",  # name - INFO - , name | INFO |
            rf"^[\w.-]+ {{2,}}{_LEVEL} {{2,}}",  # name<TAB>INFO<TAB> (tabs widened: ``flat``)
            # a logger's name after the level (``.. - INFO - joeynmt.training - ``)
            r"^(?:[A-Za-z_]\w*(?:\.\w+)+|__main__|root)\s+-\s+(?=\S)",
            # fairseq logger: train_inner | (a validation logger name stays: it says what
            # follows; so do a table's names between bars, on a line of no number, and a
            # row's label before its numbers, DeepCpG's ``train | 0.58 | ..``)
            r"^(?!(?i:val|valid|validation|eval|test|dev)\b)[A-Za-z_][\w.]*\s+\|\s+"
            r"(?=[^\s\d.+-])(?=.*(?<![\w.])\d)",
            rf"^[\w.]+ {_LEVEL}:\s*",  # ppocr INFO:
            # where it was printed, then the level: OLMo's ``host:0<TAB>module.path:628<TAB>INFO``
            rf"^(?:[\w.-]+:\d+\s+){{1,3}}{_LEVEL}\s+",
        )
    )
)


class Segment(NamedTuple):
    """One logical line: the cleaned text and, if a prefix named it, the rank that printed it."""

    text: str
    rank: int | None = None
    # The tag as printed, when it was a bare number (srun's ``0: ``, ``[0] ``): a counter
    # prints the same (``1: loss``, ``[50] loss``), so it names a rank only once a number
    # came again (``LogReader``); until then it is read as part of the text.
    tag: str = ""


def apply_backspaces(text: str) -> str:
    """Apply ``\\b`` as a terminal does, in each state of a line redrawn with ``\\r``:
    each moves the cursor one place back, and what follows is written over the text
    from there on; what it does not reach stays (a bar that steps back into its own
    text to print a counter keeps the rest: ``Loss: 2.3 | Acc: 9%\\b\\b\\b 1/391``)."""
    if "\b" not in text:
        return text
    return "\r".join(map(_overwritten, text.split("\r")))


def _overwritten(state: str) -> str:
    """One state of a line as a terminal shows it, its backspaces applied."""
    if "\b" not in state:
        return state
    shown: list[str] = []
    at = 0
    for ch in state:
        if ch == "\b":
            at = max(0, at - 1)
            continue
        if at < len(shown):
            shown[at] = ch
        else:
            shown.append(ch)
        at += 1
    return "".join(shown)


def redraws(text: str) -> list[str]:
    """The states of a line redrawn with ``\\r`` (a progress bar), oldest first.

    A terminal overlays the states; every state is kept instead, since bars such as
    Lightning's and diffusers' carry metrics in each refresh. Blank states are dropped.
    """
    if "\r" not in text:
        return _unglued(text) or [text]
    states = text.split("\r")
    if _BLANK_STATE.search(text) is None:  # (a search at C speed, not a strip per state)
        return states if states[0].strip() else states[1:]
    return [segment for segment in states if segment.strip()]


def _unglued(text: str) -> list[str] | None:
    """The states of a bar redrawn with ``\\r`` whose ``\\r`` were lost (a log pasted into
    an issue, a viewer that drops them), glued into one line: None when ``text`` is not
    so. A line is glued states when the words it opens with (all before its first
    number: at least ``_OPENING`` characters, a letter among them) recur in it, and each
    piece they begin reads alike (the same words and separators, bars cut, blanks
    collapsed), but for the last, which may show more (Keras and Lightning add the
    evaluation's values to the last state)."""
    head = text.lstrip()[:_OPENING]
    if len(head) < _OPENING or text.count(head) < 2:
        return None  # (glued states repeat the line's opening: it must recur)
    found = _FIRST_DIGIT.search(text)
    if found is None:
        return None
    at = found.start()
    opening = text[:at].lstrip()
    if len(opening) < _OPENING or text.find(opening, at) < 0 or not _LETTER.search(opening):
        return None
    starts = [m.start() for m in re.finditer(re.escape(opening), text)]
    if text[: starts[0]].strip():
        return None
    states = [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]
    shapes = {_state_shape(state) for state in states[:-1]}
    if len(shapes) != 1 or not _state_shape(states[-1]).startswith(shapes.pop().rstrip("]})")):
        return None
    return states


def _state_shape(state: str) -> str:
    """A state's words and separators: its bar cut, numbers as ``0``, blanks collapsed."""
    return " ".join(_NUMBER_RUN.sub("0", _unbarred(state)).split())


def _rank_of(tag: re.Match[str]) -> int:
    """The rank a ``_RANK`` tag names."""
    return int(next(found for found in tag.group("a", "b", "c", "d", "e", "f", "g", "h") if found))


def _bare(tag: re.Match[str]) -> str:
    """A ``_RANK`` tag as printed if it is a bare number (``0: ``, ``[0] ``), as a
    counter's may be too; else ""."""
    return tag.group() if tag.group("c") or tag.group("e") else ""


def strip_prefixes(text: str) -> Segment:
    """Remove rank tags, timestamps and logging prefixes from the start of a line."""
    rank: int | None = None
    bare = ""
    match = _RANK.match(text)
    if match:
        rank, bare = _rank_of(match), _bare(match)
        text = text[match.end() :]
    text = text.lstrip()
    for _ in range(8):  # prefixes stack: [rank0]:[titan] 2025-07-21 08:15:42,907 - root - INFO -
        match = _PREFIX.match(text)
        if match and match.end():
            text = text[match.end() :]
        elif rank is None and (match := _RANK.match(text)):
            rank, bare = _rank_of(match), _bare(match)
            text = text[match.end() :]
        else:
            break
    return Segment(text, rank, bare)


def _unstyled(raw: str) -> str:
    """A physical line without its end, colour codes and backspaces, as ``clean`` reads it."""
    text = raw.rstrip("\n").removesuffix("\r")
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    return apply_backspaces(text)


def flat(raw: str) -> str:
    """A physical line that is one state and shows no bar, as ``clean`` reads it before
    it cuts prefixes: without its end, colour codes and backspaces, its tabs as two
    spaces and without other control characters. Each step cuts or widens the same
    places of any line of the same layout (digits made 0)."""
    text = _unstyled(raw)
    if not text.isprintable():
        text = _CONTROL.sub("", text.replace("\t", "  "))
    return text


def _unbarred(text: str) -> str:
    """``text`` with each tqdm bar replaced by ``| `` (``TQDM_BAR.sub("| ", text)``), the
    first step of ``clean`` for each state.

    The pattern tries every digit of a line; this cuts the text at each ``%|...|`` (a
    pattern that starts with a literal: found at C speed) and takes the 1 to 3 digits
    before each from the end of the piece before it, several times faster on a line of
    many redraws. A bar with no digit before it, or a non-ASCII digit, is left to
    ``_unbarred_slowly``, which applies the pattern's rule exactly."""
    if "%|" not in text:
        return text
    pieces = _BAR_TAIL.split(text)
    if len(pieces) == 1:
        return text
    before = pieces[:-1]
    kept = [piece.rstrip(_DIGITS) for piece in before]
    cuts = list(map(sub, map(len, before), map(len, kept)))
    if not (min(cuts) >= 1 and max(cuts) <= 3):  # a bar without digits, or 4 and more
        return _unbarred_slowly(text)
    if not "".join([piece[-1:] for piece in kept]).isascii():
        return _unbarred_slowly(text)  # maybe a non-ASCII digit, which the pattern takes
    kept.append(pieces[-1])
    return "| ".join(kept)


def _unbarred_slowly(text: str) -> str:
    """``_unbarred`` by the pattern's rule, one ``%|`` at a time: a match starts at the 1
    to 3 digits just before a ``%|`` (those after the end of the last match) and ends at
    the first ``|`` within 100 characters after it, with no ``\\r`` before."""
    at = text.find("%|")
    out: list[str] = []
    done = 0  # where the last match ended: the text before it is in out
    while at >= 0:
        start = at
        while start > max(done, at - 3) and text[start - 1].isdecimal():
            start -= 1
        close = text.find("|", at + 2, at + 3 + _BAR_LONGEST)
        if start < at and close >= 0 and text.find("\r", at + 2, close) < 0:
            out += (text[done:start], "| ")
            done = close + 1
            at = text.find("%|", done)
        else:
            at = text.find("%|", at + 1)
    out.append(text[done:])
    return "".join(out)


def redrawn(raw: str) -> list[str] | None:
    """The states of a physical line redrawn with ``\\r`` (a progress bar), each cleaned
    as a line of its own would be cleaned to what ``clean(raw)`` makes of it: None when
    the line is not redrawn, or a state may not read alone as it does in the line.

    Reading each state as a line lets the reader learn its layout: its tqdm bar, which
    changes with every redraw, is cut out here already (when cutting it is final: a cut
    state shows no bar any more), so states that differ only in their numbers share
    one layout."""
    if "\r" not in raw.rstrip("\n").removesuffix("\r"):
        return None
    text = _unstyled(raw)
    if "\x1b" in text or "\b" in text:  # a code a cut made: not what clean(state) sees
        return None
    cut = _unbarred(text)  # every state's bar at once
    if "%|" not in cut:
        return redraws(cut)
    states = []
    for state in redraws(text):
        cut = _unbarred(state)
        states.append(state if "%|" in cut else cut)  # a cut state that shows a bar: uncut
    return states


def _magnified(found: re.Match[str]) -> str:
    """A ``_MAGNITUDE`` number, written out."""
    return f"{float(found[1]) * _MAGNITUDES[found[2]]:.15g}"


# A number with a decimal comma (German, French, ..: ``Verlust: 2,8700``, ``52,85 %``,
# ``6,802e-04``, ``1.423,3``) after a blank, a colon or an equals sign: its comma is no
# thousands' (those come before three digits; a time's milliseconds too), no list's or
# CSV's separator (``[64,1000]``, ``1,2`` opening a row), as no blank or other digits
# follow it.
_DECIMAL_COMMA = lazy.regex(
    r"(?<=[\s:=])(?P<whole>[1-9]\d{0,2}(?:\.\d{3})+|\d+),(?P<part>\d+)"
    r"(?=(?P<exp>[eE][-+]?\d+)?(?:$|[\s%|;)]))"
)
# A number grouped in thousands by dots (``3.125``, ``1.850``) on a line whose numbers
# have decimal commas.
_THOUSANDS_DOTS = lazy.regex(r"(?<![\w.,])[1-9]\d{0,2}(?:\.\d{3})+(?![\w.,])")


def _decimal(found: re.Match[str]) -> str:
    if len(found["part"]) == 3 and not found["exp"] and "." not in found["whole"]:
        return found.group()  # (``1,234``: a thousands' comma as much as a decimal one)
    return f"{found['whole'].replace('.', '')}.{found['part']}"


def decimal_commas(text: str) -> str:
    """``text`` with numbers written with decimal commas (and dots grouping thousands)
    written as Python reads them, when it has any; else unchanged."""
    rewritten = _DECIMAL_COMMA.sub(_decimal, text)
    if rewritten == text:
        return text
    return _THOUSANDS_DOTS.sub(lambda found: found.group().replace(".", ""), rewritten)


def clean(raw: str) -> list[Segment]:
    """One physical line of a log -> the logical lines a parser should read."""
    out: list[Segment] = []
    for state in redraws(_unstyled(raw)):
        state = _unbarred(state)
        if not state.isprintable():
            state = _CONTROL.sub("", state.replace("\t", "  "))
        if "m" in state and "[" in state:
            state = _BARE_SGR.sub("", state)
        if "\u00e2" in state:
            state = _MOJIBAKE.sub("", state)
        if ">" in state:
            state = _QUOTE.sub("", state)
        if ("`" in state or "~" in state) and _FENCE.match(state):
            continue
        if "<-" in state or "←" in state:
            state = _COMMENT.sub("", state)
        if "*" in state:
            state = _COEFFICIENT.sub("", state)
        if "#" in state:
            state = _AXIS_NUMBER_SIGN.sub(r"\1 ", _NUMBER_SIGN.sub("", state))
        if "/s" in state:
            state = _RATE_AFTER.sub("", state)
        if "s" in state and any(word in state for word in _AXIS_WORDS):
            state = _AXIS_DURATION.sub(r"\1_time", state)
        if "Batch" in state or "Epoch" in state:
            state = _GLUED.sub(" ", state)
            state = _AXIS_GLUED.sub(r"\1 ", state)
        if "_" in state or "oss" in state or "cc" in state or state[:4].lower() in _AXES_OPENING:
            state = _NAME_GLUED.sub(lambda found: f"{found[1] or found[2] or found[3]} ", state)
        if "f" in state:
            state = _FLOAT32.sub(r"\1e\2", state)
        if "K" in state or "k" in state or "M" in state or "B" in state:
            state = _MAGNITUDE.sub(_magnified, state)
        segment = strip_prefixes(state)
        if "," in segment.text:
            segment = segment._replace(text=decimal_commas(segment.text))
        out.append(segment)
    return out
