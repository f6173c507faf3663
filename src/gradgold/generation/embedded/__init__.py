"""The embedded engine: a Wolfram Language kernel for wolframclient, evaluating with Mathics3.

Where no Mathematica or Wolfram Engine is installed, gradgold starts the console script
``gradgold-embedded-kernel`` (:mod:`gradgold.generation.embedded.kernel`) in its place, through
wolframclient's ``WolframLanguageSession(kernel=...)``, and talks to it over ZMQ sockets like to any
kernel.

This subpackage imports Mathics3 and is therefore distributed under GPL-3.0-or-later (see
``LICENSE`` here); the rest of gradgold is MIT and reaches it only as a separate process. Nothing
is imported here, so importing this package loads neither Mathics3 nor ZMQ.
"""
