/*
 * events.h: the event types written to the outbox, which users choose
 * email for and webhooks subscribe to.
 */
#ifndef FB_EVENTS_H
#define FB_EVENTS_H

#include <stdbool.h>

extern const char *const event_types[];     /* NULL-terminated */
#define EVENT_NTYPES 18

bool event_type_known(const char *type);

#endif
