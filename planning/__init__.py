"""Site planning: location models (MCLP, p-median, LSCP, capacity-aware MCLP), candidate sites
and the local scenario workspace. Pure Python, no Streamlit (METHOD.md section 6)."""

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
