"""Log text and file names made safe for where they are shown, one function per destination.

Whatever gradlog prints that it did not write itself (file names, metric names, lines and
keys quoted from a log, messages quoting them) is data, never commands. It first passes
through ``visible`` (controls, bidi overrides and other invisible characters shown as
escapes), then through the escaping of its destination: Markdown, HTML, XML, JSON or a
GitHub Actions workflow command. Output that a CI runner may read as its own log goes
through an ``inert`` pass last, so no line of it can start a workflow command.
"""

from __future__ import annotations

import re
import unicodedata

from gradlog import lazy

# Characters that print nothing or change how the rest prints: controls (C0, DEL and C1:
# ESC starts terminal sequences, U+009B is a one-character CSI, CR and backspace overwrite),
# format characters (bidi overrides and isolates, zero-width spaces, tag characters), line
# and paragraph separators, and lone surrogates (the bytes of a file name that is not UTF-8).
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_SUSPECT = lazy.regex(r"[^\x20-\x7e]")  # printable ASCII is never hidden
_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
# os.fsdecode keeps a byte that is not UTF-8 as a surrogate U+DC80..U+DCFF (PEP 383).
_BYTE_SURROGATES = range(0xDC80, 0xDD00)

# GitHub's runner reads a line as a command when it starts with `::` after blanks, or
# when `##[` appears anywhere in it (the legacy syntax, still parsed as a fallback; see
# actions/runner src/Runner.Common/ActionCommand.cs, TryParseV2 and TryParse). It splits
# lines on LF and on CR.
_COMMAND_START = lazy.regex(r"(?:^|(?<=[\r\n]))([^\S\r\n]*):(?=:)")
_LEGACY_COMMAND = "##["

# Characters with inline meaning in GitHub-flavoured Markdown: `|` also ends a table cell,
# `$` starts math, `<` and `&` start HTML and entities (those become entities instead).
_MARKDOWN_INLINE = lazy.regex(r"([\\`*_\[\]|~!#$])")
_MARKDOWN_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}

# XML 1.0 cannot carry most C0 controls, surrogates, U+FFFE and U+FFFF, even escaped.
# (Its ranges take 6 ms to compile, and most runs write no XML.)
_NOT_XML = lazy.regex("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _escape_char(char: str) -> str:
    if char in _SHORT:
        return _SHORT[char]
    code = ord(char)
    if code in _BYTE_SURROGATES:
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def visible(text: str, keep: str = "") -> str:
    """``text`` with every control, format and bidi character shown as an escape.

    ESC becomes ``\\x1b``, U+202E ``\\u202e``, a newline ``\\n``; a byte of a file name
    that is not UTF-8 becomes ``\\xff``. Characters in ``keep`` (line breaks, where the
    destination encodes them itself) are left as they are. Printable text is unchanged.
    """

    def escape(match: re.Match[str]) -> str:
        char = match.group()
        if char in keep or unicodedata.category(char) not in _HIDDEN:
            return char
        return _escape_char(char)

    return _SUSPECT.sub(escape, text)


def inert(text: str) -> str:
    """Plain-text output that no CI runner reads as a workflow command.

    A line starting with ``::`` (after blanks) gets its first colon as ``\\x3a``, and
    ``##[`` anywhere becomes ``#\\x23[``; the rest is unchanged. Meant for a whole
    rendered output, so that wrapping cannot bring a quoted ``::`` to a line start.
    """
    text = text.replace(_LEGACY_COMMAND, "#\\x23[")
    return _COMMAND_START.sub(lambda match: match.group(1) + "\\x3a", text)


def markdown_text(text: str) -> str:
    """Text as one literal line of Markdown, safe inside a table cell.

    Whitespace (line breaks included) folds to single spaces, as Markdown would fold it;
    hidden characters become escapes; ``<``, ``>`` and ``&`` become entities, so no HTML
    from the log can render; every inline metacharacter is backslash-escaped.
    """
    text = visible(" ".join(text.split()))
    text = "".join(_MARKDOWN_ENTITIES.get(char, char) for char in text)
    return _MARKDOWN_INLINE.sub(r"\\\1", text)


def markdown_code(text: str, *, in_table: bool = False) -> str:
    """``text`` as a Markdown code span that no backtick inside it can end.

    The fence is one backtick longer than the longest run inside, padded with spaces when
    the text starts or ends with a backtick; in a table ``|`` is escaped, as GFM requires
    even inside code spans.
    """
    text = visible(" ".join(text.split()))
    runs = [len(run) for run in re.findall(r"`+", text)]
    fence = "`" * (max(runs, default=0) + 1)
    if text.startswith("`") or text.endswith("`"):
        text = f" {text} "
    if in_table:
        text = text.replace("|", "\\|")
    return f"{fence}{text}{fence}"


def html_text(text: str) -> str:
    """Text for an HTML element (``<summary>`` in Markdown): one line, no markup, inert."""
    import html  # only the HTML report needs it

    return html.escape(visible(" ".join(text.split()))).replace("[", "&#91;")


def workflow_data(text: str) -> str:
    """A workflow command's message: ``%``, CR and LF escaped as GitHub documents.

    The runner turns ``%0A`` back into a line break inside the annotation, so line breaks
    survive; other hidden characters become escapes, and ``##[`` is broken up.
    """
    text = visible(text, keep="\r\n").replace(_LEGACY_COMMAND, "#\\x23[")
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def workflow_property(text: str) -> str:
    """A workflow command's property value: also ``:`` and ``,``, which delimit properties."""
    return workflow_data(text).replace(":", "%3A").replace(",", "%2C")


def xml_text(text: str) -> str:
    """Text for an XML 1.0 document: characters XML cannot carry become U+FFFD, and the
    other hidden ones escapes (tabs and line breaks stay; the serializer encodes them)."""
    return visible(_NOT_XML.sub("\ufffd", text), keep="\t\n\r")


def xml_inert(document: str) -> str:
    """A serialized XML document that no CI runner reads as a workflow command.

    Uses character references, so a parser reads back the same text: ``[`` after ``##``
    as ``&#91;``, the first colon of a line starting with ``::`` as ``&#58;``, and a raw
    CR (which a parser would read as LF, and a terminal as a return) as ``&#13;``. The
    document must contain no comment, CDATA section or processing instruction.
    """
    document = document.replace("\r", "&#13;").replace(_LEGACY_COMMAND, "##&#91;")
    return _COMMAND_START.sub(lambda match: match.group(1) + "&#58;", document)


def _json_escape(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\n" or unicodedata.category(char) not in _HIDDEN:
        return char  # a raw newline in json.dumps output is layout, never inside a string
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # JSON spells a character beyond the BMP as a UTF-16 surrogate pair
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def json_inert(document: str) -> str:
    """A serialized JSON document that shows no hidden character and starts no workflow
    command, and that a parser reads back exactly as before.

    ``json.dumps`` escapes C0 controls but, with ``ensure_ascii=False``, leaves DEL, C1,
    bidi and other format characters and lone surrogates raw: they become ``\\uXXXX``.
    ``##[`` can only occur inside a string, where ``##\\u005b`` reads back the same; no
    line of ``json.dumps`` output starts with ``::``.
    """
    document = _SUSPECT.sub(_json_escape, document)
    return document.replace(_LEGACY_COMMAND, "##\\u005b")
