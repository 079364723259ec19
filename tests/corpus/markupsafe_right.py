def _escape_inner(s: str, /) -> str:
    if type(s) is str and not (
        "&" in s or ">" in s or "<" in s or "'" in s or '"' in s
    ):
        # Nothing to escape: the replace chain would hand back ``s`` itself,
        # so skip the five passes.  (Only for exact ``str``: for a subclass
        # ``str.replace`` returns a plain ``str`` copy, which we keep.)
        return s
    return (
        s.replace("&", "&amp;")
        .replace(">", "&gt;")
        .replace("<", "&lt;")
        .replace("'", "&#39;")
        .replace('"', "&#34;")
    )
