"""The ``cowrie-report`` command line: a thin click shell over the library."""
