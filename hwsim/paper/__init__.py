"""hwsim.paper: the DRTP paper's float experiments (BP, FA, DFA, sDFA, DRTP, shallow) in numpy.

Rooms: :mod:`.topology` (network strings), :mod:`.nets` (layers, init, forward), :mod:`.conv`
(convolution, pooling), :mod:`.losses`, :mod:`.algorithms` (the six rules), :mod:`.optim`,
:mod:`.angles` (alignment with BP), :mod:`.data` (synthetic tasks, image sets), :mod:`.trainer`
(one run), :mod:`.runner` (the resumable grid), :mod:`.report` (table, CSV, figures) and
``python -m hwsim.paper``.
"""

from .algorithms import ALGORITHMS, backward, make_feedback
from .nets import build_net, forward, predict
from .topology import parse_topology
from .trainer import RunSpec, run

__all__ = ["ALGORITHMS", "RunSpec", "run", "parse_topology", "build_net", "forward", "predict", "backward",
           "make_feedback"]
