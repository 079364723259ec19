"""Names shared by the executor and the plugin (which must stay import-light)."""

RESULTS_FD_VAR = "ORPS_RESULTS_FD"  # descriptor number of the results channel
TIMEOUT_VAR = "ORPS_PER_TEST_TIMEOUT"  # seconds, as text
NONCE_BYTES = 32  # hex characters the executor writes to the child's stdin
HARD_TIMEOUT_GRACE = 1.0  # seconds between the SIGALRM and faulthandler's exit
PLUGIN_MODULE = "orps_lsp.sandbox.plugin"
