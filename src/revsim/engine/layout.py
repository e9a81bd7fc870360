"""Column layout of the arrays the kernels read and write.

Kernels see plain arrays only; these constants name their columns once, for the kernels, the compiler
that fills them and the code that turns the outputs into a Dataset.
"""

from __future__ import annotations

# -- random events, by kind (the uniforms each kind may take are counted by revsim.engine.variates) ----------
PROCESSES = (
    "arrivals",
    "conversion",
    "pricing",
    "onboarding",
    "retention",
    "expansion",
    "advocacy",
    "loops",
)
# the process word of a random event's Philox counter (revsim.engine.rng): the lanes of one block serve the
# events of one (process, month, a, b), e.g. a cohort's onboarding, renewal, upgrades and downgrades
P_ARRIVALS = 0  # (channel, 0): gamma multiplier, count; (channel, 1 + segment): the split
P_CONVERSION = 1  # (stage, segment): leavers, converters
P_PRICING = 2  # (segment, 0): the new cohort's MRR
P_CUSTOMERS = 3  # (acquisition month, segment): onboarding, renewal, upgrades, downgrades
P_BOOK_CUSTOMERS = 4  # (book cohort, 0): the same lanes, for the initial book's cohorts
P_ADVOCACY = 5  # (segment, 0): advocates (month -1: the initial book's)
P_LOOPS = 6  # (loop, segment): the loop's entries

# -- per-segment parameters, seg_par[segment, column] (one row per segment, drawn per draw) ------------------
MRR_MEAN = 0  # mean starting MRR of a new customer (ACV / 12)
ACV_CV = 1  # coefficient of variation of a new customer's contract value
ONB_SUCCESS = 2  # share of a new cohort that survives onboarding
CHURN = 3  # churn probability per renewal (constant model)
SBG_ALPHA = 4  # shifted-beta-geometric alpha
SBG_BETA = 5  # shifted-beta-geometric beta
EXP_RATE = 6  # monthly probability that a customer upgrades
EXP_SIZE = 7  # relative MRR growth of an upgrade
CON_RATE = 8  # monthly probability that a customer downgrades
CON_SIZE = 9  # relative MRR loss of a downgrade
UPLIFT = 10  # relative price uplift at each renewal
ADV_RATE = 11  # share of adopted customers who are advocates
N_SEG_PAR = 12

# -- per-segment structure, seg_int[segment, column] ---------------------------------------------------------
TERM = 0  # contract months between renewals
ONB_MONTHS = 1  # months of onboarding (failures churn at that age, at the earliest 1)
ADOPT_MONTHS = 2  # age from which a customer counts as adopted (can be an advocate)
RET_MODEL = 3  # 0: constant churn, 1: sBG
N_SEG_INT = 4
RET_CONSTANT = 0
RET_SBG = 1

# -- channels, ch_par[channel, column] -----------------------------------------------------------------------
VOLUME = 0
GROWTH = 1
DISPERSION = 2
N_CH_PAR = 3

# -- loops, loop_int[loop, column] -----------------------------------------------------------------------------
SOURCE = 0  # index into LOOP_SOURCE_CODES
TARGET_STAGE = 1
LAG = 2
TARGET_SEGMENT = 3  # -1: the source's own segment
SOURCE_SEGMENT = 4  # -1: every segment's source
N_LOOP_INT = 5
SRC_ADVOCATES = 0
SRC_ACTIVE = 1
SRC_NEW = 2
SRC_MRR = 3
LOOP_SOURCE_CODES = {"advocates": SRC_ADVOCATES, "active_customers": SRC_ACTIVE,
                     "new_customers": SRC_NEW, "mrr": SRC_MRR}

# -- outputs: counts[month, segment, column] ----------------------------------------------------------------
NEW_CUSTOMERS = 0
CHURNED_CUSTOMERS = 1
ACTIVE_CUSTOMERS = 2
ADVOCATES = 3
ONBOARDING_CHURNED = 4
NEW_ENTRIES = 5  # entries from channels and loops, at any stage (leads)
RENEWED = 6  # customers who were due for a renewal and renewed
N_COUNTS = 7

# -- outputs: money[month, segment, column], in integer cents of MRR --------------------------------------------
NEW_MRR = 0
EXPANSION_MRR = 1  # upgrades and renewal price uplifts
CONTRACTION_MRR = 2
CHURNED_MRR = 3
MRR = 4  # stock at month end
MRR_AGED_12 = 5  # MRR at month end of customers acquired at least 12 months earlier (for NRR)
LOSS_AGED_12 = 6  # cumulative churned + contraction MRR of those customers (for GRR)
N_MONEY = 7

# -- flags[column]: first month (+1) a problem happened, 0 if never -------------------------------------------
# flags[loop] for a loop capped as runaway, flags[n_loops + channel] for a channel, and the last column for
# money beyond what int64 cents can hold.

#: The most entries one channel (or one loop in one segment) can add in a month before it is capped as runaway
#: growth.
COUNT_CAP = 2**33
#: MRR or cumulative losses (in cents) beyond which a draw stops. Upgrade sizes and uplifts are at most 10
#: (+1000%), so one month can multiply MRR by at most 121: from below this cap nothing reaches 2**63.
MONEY_CAP = 2**55
