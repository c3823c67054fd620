"""`python -m server.cli`: a command-line client of the server's import and export APIs.

`commands` is the command line; `client` (GraphQL over HTTP), `monday` (the three-step bulk
import) and `blue` (exports) are the library under it, which the pytest plugin
(`server.testing`) uses too.
"""
