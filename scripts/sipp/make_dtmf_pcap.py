#!/usr/bin/env python3
"""Write a multi-key RFC 2833 DTMF pcap for SIPp's play_pcap_audio (see docs/qa.md).

    scripts/sipp/make_dtmf_pcap.py dispo.pcap '23*40*50#,,,1' [--payload-type 101] [--no-audio]

Same as ``python -m esl_apps.qa.dtmf_pcap``: all keys in one increasing RTP sequence, so
FreeSWITCH keeps repeated keys, with "," as a one-second pause.
"""

import sys

from esl_apps.qa.dtmf_pcap import main

if __name__ == "__main__":
    sys.exit(main())
