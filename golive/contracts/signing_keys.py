"""The key that signs prediction ids: drawn by infra (the secret's first value) and by the rotation function
(every later one), read by the API. Standard library only: the rotation function ships this file."""

KEY_CHARS = 64  # letters and digits: ~381 random bits
MIN_KEY_BYTES = 32  # the API refuses shorter keys, and the rotation function will not make one current
