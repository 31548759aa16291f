/*
 * currency.h: the ISO 4217 currencies a program may be paid in.
 *
 * Amounts are integers in a currency's minor unit; the exponent says how
 * many minor units make one major unit (2 for EUR, 0 for JPY, 3 for KWD).
 */
#ifndef FB_CURRENCY_H
#define FB_CURRENCY_H

#include <stdbool.h>

/* Whether code is an active ISO 4217 code, in upper case. */
bool currency_valid(const char *code);
/* Digits after the decimal point in the major unit, or -1 if unknown. */
int currency_exponent(const char *code);

#endif
