#include "fb.h"

#include "events.h"

const char *const event_types[] = {
	"enrollment.created", "terms.published", "submission.created",
	"submission.decided", "submission.deemed_approved", "submission.appealed",
	"review.sla_warning", "accrual.posted", "payout.approved", "payout.paid",
	"payout.failed", "license.requested", "license.granted", "license.declined",
	"license.withdrawn", "license.expired", "license.revoked", "license.ended", NULL,
};
_Static_assert(FB_ARRAY_LEN(event_types) == EVENT_NTYPES + 1,
    "EVENT_NTYPES counts event_types");

bool
event_type_known(const char *type)
{
	const char *const *t;

	for (t = event_types; *t; t++)
		if (strcmp(*t, type) == 0)
			return true;
	return false;
}
