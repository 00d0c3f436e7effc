"""QA tooling: RTP/DTMF pcaps for SIPp, an RTP capture for tests, the SIPp runner and load-test summary.

Nothing here is imported by the call-handling runtime; it exists so QA can drive a real FreeSWITCH
(or SIPp standing in for it) with the scenarios under ``scripts/sipp`` and read the results.
"""
