from nixpkgs_common.qmp import QMPAPIError as QMPAPIError
from nixpkgs_common.qmp import QMPSession as QMPSession
