"""Excel formulas from sympy expressions.

A :class:`~sympy.printing.codeprinter.CodePrinter` subclass in the manner of
sympy's own printers: a function table plus one small ``_print_X`` method per
node, and anything else is refused rather than printed approximately.

Excel's grammar differs from Python's in ways that change results, so the
printer never relies on precedence it does not control:

- unary minus binds tighter than ``^`` (``=-2^2`` is 4): a negated product or
  power is printed ``-(...)``;
- ``^`` is left-associative: a base or exponent that is not a plain name or
  non-negative number is parenthesised;
- ``LOG`` is base 10: the natural log is ``LN``, log2 is ``LOG(x,2)``;
- only Excel 2007 functions are used (``CEILING(x,1)``, not ``CEILING.MATH``).
"""

from __future__ import annotations

from fractions import Fraction

import sympy
from sympy.codegen.cfunctions import log2
from sympy.printing.codeprinter import CodePrinter

from ..declare.functions import ErlangC, Saturation, Select

MAX_FORMULA_LENGTH = 8192  # characters, Excel's limit for one cell formula


class ExcelPrintError(ValueError):
    """The expression has a node Excel cannot compute exactly."""


FUNCTIONS = {  # sympy function -> (Excel name, extra trailing arguments)
    sympy.Max: ("MAX", ""),
    sympy.Min: ("MIN", ""),
    sympy.ceiling: ("CEILING", ",1"),
    sympy.floor: ("FLOOR", ",1"),
    sympy.log: ("LN", ""),
    log2: ("LOG", ",2"),
    sympy.exp: ("EXP", ""),
}
RELATIONS = {"==": "=", "!=": "<>", ">": ">", "<": "<", ">=": ">=", "<=": "<="}


class ExcelPrinter(CodePrinter):
    """Print an expression as an Excel formula body (without the leading ``=``).

    ``names`` maps symbols to what the formula refers to (a defined name or a
    cell address); a symbol not in it prints as its own name. ``available``,
    if given, is the set of symbols with a value: an option of a
    :class:`Select` that needs a missing one becomes ``NA()``.
    """

    printmethod = "_excel"
    language = "Excel"
    _default_settings = {**CodePrinter._default_settings, "strict": True, "names": None, "available": None}

    def _format_code(self, lines):
        return lines

    def _get_comment(self, text):
        return text

    def _print(self, expr, **kwargs) -> str:
        for cls in type(expr).__mro__:
            if cls in ALLOWED:
                return super()._print(expr, **kwargs)
        raise ExcelPrintError(f"cannot print {type(expr).__name__} as an Excel formula: {expr}")

    # --- atoms ---
    def _print_Symbol(self, expr) -> str:
        names = self._settings["names"] or {}
        return names.get(expr, expr.name)

    _print_Dummy = _print_Symbol  # helper cells stand in for parts of long formulas

    def _print_Integer(self, expr) -> str:
        return str(int(expr))

    def _print_Rational(self, expr) -> str:
        num, den = readable(expr)
        return num if den == "1" else f"({num}/{den})"

    def _print_Float(self, expr) -> str:
        return repr(float(expr)).upper()

    def _print_Half(self, expr) -> str:
        return "0.5"

    def _print_ErlangC(self, expr) -> str:
        """C = 1 / ((1 - rho) / B + rho), rho = a / c, with Erlang B = pmf(c) / cdf(c) of a Poisson of mean a
        (POISSON, which every Excel and LibreOffice reads without a prefix); 1 when a >= c."""
        c, a = (self._print(x) for x in expr.args)
        return f"IF({a}>={c},1,1/((1-{a}/{c})*POISSON({c},{a},TRUE)/POISSON({c},{a},FALSE)+{a}/{c}))"

    def _print_Saturation(self, expr) -> str:
        return f"IF({self._print(expr.args[0])}<1,0,NA())"

    def _print_NaN(self, expr) -> str:  # a value the model does not derive (a threshold on a torus)
        return "NA()"

    def _print_BooleanTrue(self, expr) -> str:
        return "TRUE"

    def _print_BooleanFalse(self, expr) -> str:
        return "FALSE"

    # --- arithmetic ---
    def _atom(self, expr) -> bool:
        return expr.is_Symbol or (expr.is_Number and expr.is_nonnegative and not expr.is_Rational) or (
            expr.is_Integer and expr >= 0)

    def _group(self, expr) -> str:
        """``expr`` safe to use as an operand of ``*``, ``/`` or ``^``."""
        text = self._print(expr)
        return text if self._atom(expr) or isinstance(expr, sympy.Function) else f"({text})"

    def _print_Add(self, expr, order=None) -> str:
        terms = list(expr.as_ordered_terms())
        out = ""
        for i, term in enumerate(terms):
            negative = term.could_extract_minus_sign()
            body = self._print(-term if negative else term)
            if isinstance(-term if negative else term, sympy.Add):
                body = f"({body})"
            if i == 0:
                out = f"-({body})" if negative else body
            else:
                out += f"-{body}" if negative else f"+{body}"
        return out

    def _print_Mul(self, expr) -> str:
        coeff, rest = expr.as_coeff_Mul()
        if coeff.is_negative:
            return f"-({self._print(-expr)})"
        num, den = [], []
        if coeff != 1:
            if coeff.is_Rational:
                p, q = readable(coeff)
                if p != "1":
                    num.append(p)
                if q != "1":
                    den.append(q)
            else:
                num.append(self._print(coeff))
        for f in sympy.Mul.make_args(rest):
            if f.is_Pow and f.exp.is_Number and f.exp.is_negative:
                den.append(self._group(f.base if f.exp == -1 else sympy.Pow(f.base, -f.exp, evaluate=False)))
            else:
                num.append(self._group(f))
        text = "*".join(num) if num else "1"
        if den:
            text += "/" + (den[0] if len(den) == 1 else "(" + "*".join(den) + ")")
        return text

    def _print_Pow(self, expr, rational=False) -> str:
        base, exp = expr.args
        if exp.is_Number and exp.is_negative:
            return f"1/{self._group(sympy.Pow(base, -exp, evaluate=False) if exp != -1 else base)}"
        if exp == sympy.S.Half:
            return f"SQRT({self._print(base)})"
        return f"{self._group(base)}^{self._group(exp)}"

    # --- functions ---
    def _print_Function(self, expr) -> str:
        for cls in type(expr).__mro__:
            if cls in FUNCTIONS:
                name, extra = FUNCTIONS[cls]
                return f"{name}({','.join(self._print(a) for a in expr.args)}{extra})"
        raise ExcelPrintError(f"cannot print {type(expr).__name__} as an Excel formula: {expr}")

    def _print_Min(self, expr) -> str:
        """MIN or MAX, each reference read as a number (``+0``): MIN and MAX skip a cell holding text (a sentence
        saying why it has no number), where arithmetic turns it into an error that the cell's own note catches."""
        name = "MIN" if isinstance(expr, sympy.Min) else "MAX"
        return f"{name}({','.join(self._print(a) + ('+0' if a.is_Symbol else '') for a in expr.args)})"

    _print_Max = _print_Min

    def _print_Heaviside(self, expr) -> str:
        """H(x) = (SIGN(x)+1)/2: 0, 1/2 at 0, 1; its argument is printed once (derivatives nest many)."""
        if len(expr.args) > 1 and expr.args[1] != sympy.S.Half:
            raise ExcelPrintError(f"only Heaviside(x) with H(0) = 1/2 is printed: {expr}")
        return f"(SIGN({self._print(expr.args[0])})+1)/2"

    def _print_Relational(self, expr) -> str:
        """A comparison with each side read as a number (``+0``): spreadsheets rank a cell's text above every
        number, so a sentence upstream would compare TRUE, where arithmetic turns it into an error that the
        cell's own note catches."""
        def side(x) -> str:
            return self._print(x) + ("" if x.is_Number else "+0")
        return f"{side(expr.lhs)}{RELATIONS[expr.rel_op]}{side(expr.rhs)}"

    def _print_Or(self, expr) -> str:
        return f"OR({','.join(self._print(a) for a in expr.args)})"

    def _print_And(self, expr) -> str:
        return f"AND({','.join(self._print(a) for a in expr.args)})"

    def _print_Piecewise(self, expr) -> str:
        *cases, (last, cond) = expr.args
        if cond != sympy.true:
            raise ExcelPrintError(f"a Piecewise needs a final 'otherwise' branch to print: {expr}")
        text = self._print(last)
        for value, condition in reversed(cases):
            text = f"IF({self._print(condition)},{self._print(value)},{text})"
        return text

    def _print_Select(self, expr) -> str:
        available = self._settings["available"]
        text = "NA()"
        for choice, option in reversed(expr.pairs):  # the Select holds its options keyed by choice
            if available is not None and not _outside_selects(option) <= available:
                continue  # an option that needs a quantity the workbook lacks is the spreadsheet's #N/A
            text = f'IF({self._print(expr.key)}="{choice}",{self._print(option)},{text})'
        return text


#: Numerator and denominator a readable constant keeps below (730 hours a month, 8760 a year, 3/250).
READABLE = 10**6


def readable(r: sympy.Rational) -> tuple[str, str]:
    """(numerator, denominator) of ``r`` as a reader writes the constant: a unit factor that reached the formula
    as an exact rational of floats (``100000000000000000/136986301369863``) as the small fraction it is within
    1e-12 (``730``), or a power of ten; else as it is (issue 31)."""
    exact = Fraction(int(r.p), int(r.q))
    if exact.denominator == 1 or (exact.numerator <= READABLE and exact.denominator <= READABLE):
        return str(exact.numerator), str(exact.denominator)
    inverse = (1 / exact).limit_denominator(READABLE) if exact else None
    for guess in (exact.limit_denominator(READABLE), 1 / inverse if inverse else None):
        if guess and abs(guess / exact - 1) < 1e-12 and (guess.numerator <= READABLE or guess.denominator == 1):
            return str(guess.numerator), str(guess.denominator)
    for k in range(-18, 19):  # a power of ten times a small fraction: bytes per GB, FLOP per PFLOP
        scaled = (exact / Fraction(10) ** k).limit_denominator(1000)
        if scaled and abs(scaled * Fraction(10) ** k / exact - 1) < 1e-12 and scaled.numerator <= 10**4:
            value = scaled * Fraction(10) ** k
            return str(value.numerator), str(value.denominator)
    return str(exact.numerator), str(exact.denominator)


def _outside_selects(expr: sympy.Expr) -> set:
    """Symbols ``expr`` needs whatever the choices: a nested Select's options are judged when it is printed,
    only its key is needed here (renting on demand needs no spot price)."""
    nested = list(expr.atoms(Select))
    plain = expr.xreplace({n: sympy.Dummy() for n in nested})
    return (plain.free_symbols - {d for d in plain.free_symbols if isinstance(d, sympy.Dummy)}) \
        | {n.key for n in nested}


ALLOWED = (sympy.Symbol, sympy.Integer, sympy.Rational, sympy.Float, sympy.Add, sympy.Mul, sympy.Pow,
           sympy.Max, sympy.Min, sympy.ceiling, sympy.floor, sympy.log, log2, sympy.exp, sympy.Heaviside,
           sympy.Piecewise, sympy.core.relational.Relational, Select, sympy.Or, sympy.And,
           sympy.logic.boolalg.BooleanTrue, sympy.logic.boolalg.BooleanFalse, sympy.core.numbers.NaN, ErlangC,
           Saturation)


def excel_formula(expr: sympy.Expr, names: dict | None = None, available: set | None = None) -> str:
    """``=...``: the Excel formula of ``expr`` (raises :class:`ExcelPrintError` if it cannot)."""
    return "=" + ExcelPrinter({"names": names, "available": available}).doprint(expr)
