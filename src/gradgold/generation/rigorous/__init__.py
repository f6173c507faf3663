"""gradgold's rigorous evaluator: a case's Wolfram Language expression evaluated in ball arithmetic.

The tree comes from the case file's own ``wolfram=`` text (``parser``), is evaluated over Taylor
series of Arb balls (``balls``, ``arrays``, ``evaluate``) along one direction per pass
(``derivatives``), and every stored float64 is a proven correct rounding (``rounding``,
``reference``). python-flint is imported by these modules only; generation and verification import
them lazily, and the checker never does.
"""
