"""The import benchmark (issue 5): `python -m bench` from the repository root.

It generates its inputs in a temporary folder, starts `python -m server` with embedded
PostgreSQL and S3, measures every import path end to end through the API next to PostgreSQL
COPY (and pgloader when installed), the server's memory on a 150 MB file and fetch_job_status
latency under 50 pollers, and prints one table with the issue's targets marked PASS or FAIL.
"""
