def pluralize(word: str) -> str:
    """
    Return the plural form of a word.

    Examples::

        >>> pluralize("posts")
        'posts'
        >>> pluralize("octopus")
        'octopi'
        >>> pluralize("sheep")
        'sheep'
        >>> pluralize("CamelOctopus")
        'CamelOctopi'

    """
    if not word or word.lower() in UNCOUNTABLES:
        return word
    # Compile the rules once and keep them on the function; rebuild whenever
    # PLURALS has been changed (callers may add rules at run time).
    cache = pluralize.__dict__.get('_compiled_rules')
    if cache is None or cache[0] != PLURALS:
        cache = (
            list(PLURALS),
            [(re.compile(rule), replacement) for rule, replacement in PLURALS],
        )
        pluralize._compiled_rules = cache  # type: ignore[attr-defined]
    for pattern, replacement in cache[1]:
        if pattern.search(word):
            return pattern.sub(replacement, word)
    return word
