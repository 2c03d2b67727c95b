"""Regulator tools: EPCIS 2.0 and FSMA-204-style exports, trace, mass balance, alerts."""
