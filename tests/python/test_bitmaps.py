"""Bitmaps share the string's storage: SETBIT and BITFIELD change a large value in place."""

MIB = 1 << 20


def peak_rss(c):
    return c.info("memory")["used_memory_peak"]


def test_setbit_near_the_end_of_a_large_value_does_not_copy_it(respd):
    c = respd.client()
    size = 256 * MIB
    # Created zero-filled: its pages are not touched, so a copy of it would show in the peak.
    assert c.setbit("big", size * 8 - 1, 1) == 0
    before = peak_rss(c)
    for i in range(20):
        c.setbit("big", size * 8 - 2 - i, 1)
        c.execute_command("BITFIELD", "big", "INCRBY", "u8", str(size * 8 - 64), "1")
    assert c.strlen("big") == size
    assert c.getbit("big", size * 8 - 5) == 1
    grown = peak_rss(c) - before
    assert grown < 64 * MIB, f"peak RSS grew by {grown} bytes: the value was copied"
