"""Site planning (METHOD.md section 6): location models on arrays (MCLP, p-median, LSCP,
capacity-aware MCLP), candidate sites, and the local scenario workspace. No Streamlit here."""

from planning.candidates import build_candidates, straight_line_minutes  # noqa: F401
from planning.models import (  # noqa: F401
    MODELS,
    PlanResult,
    coverage_matrix,
    lscp,
    mclp,
    mclp_capacity,
    p_median,
    solve_model,
)
from planning.scenarios import ScenarioStore, default_workspace_path, validate_payload  # noqa: F401
