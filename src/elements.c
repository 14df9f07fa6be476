/*
 * elements.c - element symbols and masses, H (1) to Rn (86).
 *
 * Standard atomic weights: CIAAW/IUPAC, "Standard atomic weights of the
 * elements 2021", T. Prohaska et al., Pure Appl. Chem. 94, 573 (2022);
 * for elements whose weight IUPAC gives as an interval (H, Li, B, C, N, O,
 * Mg, Si, S, Cl, Ar, Br, Tl, Pb) the conventional value of that report.
 * Elements without a stable isotope (Tc, Pm, Po, At, Rn) have no standard
 * weight; like the IUPAC periodic table they get the mass number of a
 * long-lived isotope ([98], [145], [209], [210], [222]).
 *
 * Isotope masses: the most abundant isotope by the IUPAC representative
 * isotopic compositions (J. Meija et al., Pure Appl. Chem. 88, 293
 * (2016)), with relative atomic masses from AME2020 (M. Wang et al.,
 * Chinese Phys. C 45, 030003 (2021)) as tabulated by NIST, "Atomic Weights
 * and Isotopic Compositions with Relative Atomic Masses" (SRD 144).  For
 * Tc, Pm, Po, At, Rn: the isotope named above (98Tc, 145Pm, 209Po, 210At,
 * 222Rn).
 */
#include <config.h>

#include <ctype.h>
#include <stddef.h>

#include "internal.h"

typedef struct elements_row {
    const char *symbol;
    double standard; /* amu */
    double isotope;  /* amu, most abundant isotope */
} elements_row;

/* Row z - 1 is element z. */
static const elements_row elements_table[] = {
    {"H", 1.008, 1.00782503223},
    {"He", 4.002602, 4.00260325413},
    {"Li", 6.94, 7.0160034366},
    {"Be", 9.0121831, 9.012183065},
    {"B", 10.81, 11.00930536},
    {"C", 12.011, 12.0},
    {"N", 14.007, 14.00307400443},
    {"O", 15.999, 15.99491461957},
    {"F", 18.998403162, 18.99840316273},
    {"Ne", 20.1797, 19.9924401762},
    {"Na", 22.98976928, 22.9897692820},
    {"Mg", 24.305, 23.985041697},
    {"Al", 26.9815384, 26.98153853},
    {"Si", 28.085, 27.97692653465},
    {"P", 30.973761998, 30.97376199842},
    {"S", 32.06, 31.9720711744},
    {"Cl", 35.45, 34.968852682},
    {"Ar", 39.95, 39.9623831237},
    {"K", 39.0983, 38.9637064864},
    {"Ca", 40.078, 39.962590863},
    {"Sc", 44.955907, 44.95590828},
    {"Ti", 47.867, 47.94794198},
    {"V", 50.9415, 50.94395704},
    {"Cr", 51.9961, 51.94050623},
    {"Mn", 54.938043, 54.93804391},
    {"Fe", 55.845, 55.93493633},
    {"Co", 58.933194, 58.93319429},
    {"Ni", 58.6934, 57.93534241},
    {"Cu", 63.546, 62.92959772},
    {"Zn", 65.38, 63.92914201},
    {"Ga", 69.723, 68.9255735},
    {"Ge", 72.630, 73.921177761},
    {"As", 74.921595, 74.92159457},
    {"Se", 78.971, 79.9165218},
    {"Br", 79.904, 78.9183376},
    {"Kr", 83.798, 83.9114977282},
    {"Rb", 85.4678, 84.9117897379},
    {"Sr", 87.62, 87.9056125},
    {"Y", 88.905838, 88.9058403},
    {"Zr", 91.222, 89.9046977},
    {"Nb", 92.90637, 92.9063730},
    {"Mo", 95.95, 97.90540482},
    {"Tc", 98.0, 97.9072124},
    {"Ru", 101.07, 101.9043441},
    {"Rh", 102.90549, 102.9054980},
    {"Pd", 106.42, 105.9034804},
    {"Ag", 107.8682, 106.9050916},
    {"Cd", 112.414, 113.90336509},
    {"In", 114.818, 114.903878776},
    {"Sn", 118.710, 119.90220163},
    {"Sb", 121.760, 120.9038120},
    {"Te", 127.60, 129.906222748},
    {"I", 126.90447, 126.9044719},
    {"Xe", 131.293, 131.9041550856},
    {"Cs", 132.90545196, 132.9054519610},
    {"Ba", 137.327, 137.90524700},
    {"La", 138.90547, 138.9063563},
    {"Ce", 140.116, 139.9054431},
    {"Pr", 140.90766, 140.9076576},
    {"Nd", 144.242, 141.9077290},
    {"Pm", 145.0, 144.9127559},
    {"Sm", 150.36, 151.9197397},
    {"Eu", 151.964, 152.9212380},
    {"Gd", 157.249, 157.9241123},
    {"Tb", 158.925354, 158.9253547},
    {"Dy", 162.500, 163.9291819},
    {"Ho", 164.930329, 164.9303288},
    {"Er", 167.259, 165.9302995},
    {"Tm", 168.934219, 168.9342179},
    {"Yb", 173.045, 173.9388664},
    {"Lu", 174.9668, 174.9407752},
    {"Hf", 178.486, 179.9465570},
    {"Ta", 180.94788, 180.9479958},
    {"W", 183.84, 183.95093092},
    {"Re", 186.207, 186.9557501},
    {"Os", 190.23, 191.9614770},
    {"Ir", 192.217, 192.9629216},
    {"Pt", 195.084, 194.9647917},
    {"Au", 196.966570, 196.96656879},
    {"Hg", 200.592, 201.97064340},
    {"Tl", 204.38, 204.9744278},
    {"Pb", 207.2, 207.9766525},
    {"Bi", 208.98040, 208.9803991},
    {"Po", 209.0, 208.9824308},
    {"At", 210.0, 209.9871479},
    {"Rn", 222.0, 222.0175782},
};

static const int elements_count =
    (int) (sizeof elements_table / sizeof *elements_table);

int rpr_element_number(const char *symbol)
{
    if (symbol == NULL)
        return 0;
    for (int z = 1; z <= elements_count; z++) {
        const char *a = symbol, *b = elements_table[z - 1].symbol;
        while (*a != '\0' && *b != '\0' &&
               tolower((unsigned char) *a) == tolower((unsigned char) *b)) {
            a++;
            b++;
        }
        if (*a == '\0' && *b == '\0')
            return z;
    }
    return 0;
}

const char *rpr_element_symbol(int z)
{
    return z >= 1 && z <= elements_count ? elements_table[z - 1].symbol : NULL;
}

double rpr_element_mass(int z, rpr_mass_kind kind)
{
    if (z < 1 || z > elements_count)
        return 0.0;
    switch (kind) {
    case RPR_MASS_STANDARD: return elements_table[z - 1].standard;
    case RPR_MASS_ISOTOPE: return elements_table[z - 1].isotope;
    }
    return 0.0;
}
