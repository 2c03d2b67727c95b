"""The consumer-facing HTML pages: the verification page and the brand page (zh / en)."""
