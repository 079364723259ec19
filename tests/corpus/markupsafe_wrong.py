def _escape_inner(s: str, /) -> str:
    return (
        s.replace(">", "&gt;")
        .replace("<", "&lt;")
        .replace("'", "&#39;")
        .replace('"', "&#34;")
        .replace("&", "&amp;")
    )
