def format_int_list(int_list, delim=',', range_delim='-', delim_space=False):
    """Returns a sorted range string from a list of positive integers
    (*int_list*). Contiguous ranges of integers are collapsed to min
    and max values. Reverse of :func:`parse_int_list`.

    Args:
        int_list (list): List of positive integers to be converted
           into a range string (e.g. [1,2,4,5,6,8]).
        delim (char): Defaults to ','. Separates integers and
           contiguous ranges of integers.
        range_delim (char): Defaults to '-'. Indicates a contiguous
           range of integers.
        delim_space (bool): Defaults to ``False``. If ``True``, adds a
           space after all *delim* characters.

    >>> format_int_list([1,3,5,6,7,8,10,11,15])
    '1,3,5-8,10-11,15'

    """
    output = []
    ints = sorted(int_list)
    if ints:
        start = end = ints[0]
        for x in ints:
            delta = x - end
            if delta == 1:
                # extends the current contiguous run
                end = x
            elif delta > 1:
                # gap: flush the run and start a new one
                if start == end:
                    output.append(f'{start:d}')
                else:
                    output.append(f'{start:d}{range_delim}{end:d}')
                start = end = x
            # delta <= 0: repeated value, skip it
        if start == end:
            output.append(f'{start:d}')
        else:
            output.append(f'{start:d}{range_delim}{end:d}')

    if delim_space:
        return (delim + ' ').join(output)
    return delim.join(output)
