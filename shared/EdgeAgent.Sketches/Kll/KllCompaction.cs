namespace EdgeAgent.Sketches.Kll;

/// <summary>
/// The compaction primitives of KLL (Karnin, Lang, Liberty 2016) as realised by Apache DataSketches:
/// a level of even length is halved by keeping every other item starting at a random offset (0 or 1),
/// and the survivors, which now stand for twice the weight, join the level above (kept sorted).
/// </summary>
/// <remarks>All methods work in place on one buffer; indices are absolute positions in it.</remarks>
internal static class KllCompaction
{
    /// <summary>Result of <see cref="GeneralCompress"/>.</summary>
    internal readonly record struct CompressResult(int FinalNumLevels, int FinalCapacity, int FinalNumItems);

    /// <summary>
    /// Keeps every other item of <c>buf[start..start+length)</c>, packed into the lower half of the range.
    /// Used when the level above is not empty (the survivors are then merged into it).
    /// </summary>
    public static void RandomlyHalveDown(float[] buf, int start, int length, Random random)
    {
        int half = length / 2;
        int j = start + random.Next(2);
        for (int i = start; i < start + half; i++, j += 2)
        {
            buf[i] = buf[j];
        }
    }

    /// <summary>
    /// Keeps every other item of <c>buf[start..start+length)</c>, packed into the upper half of the range.
    /// Used when the level above is empty: the upper half then simply becomes that level.
    /// </summary>
    public static void RandomlyHalveUp(float[] buf, int start, int length, Random random)
    {
        int half = length / 2;
        int j = start + length - 1 - random.Next(2);
        for (int i = start + length - 1; i >= start + half; i--, j -= 2)
        {
            buf[i] = buf[j];
        }
    }

    /// <summary>
    /// Merges two sorted runs of one buffer into <c>buf[startC..)</c>. Safe when the output overlaps the
    /// inputs the way KLL uses it: run A lies wholly before the output start and run B ends where the
    /// output ends, so the write position never overtakes an unread item.
    /// </summary>
    public static void MergeSortedInPlace(float[] buf, int startA, int lenA, int startB, int lenB, int startC)
    {
        int limA = startA + lenA;
        int limB = startB + lenB;
        int limC = startC + lenA + lenB;
        int a = startA;
        int b = startB;
        for (int c = startC; c < limC; c++)
        {
            if (a == limA)
            {
                buf[c] = buf[b++];
            }
            else if (b == limB || buf[a] < buf[b])
            {
                buf[c] = buf[a++];
            }
            else
            {
                buf[c] = buf[b++];
            }
        }
    }

    /// <summary>Merges two sorted runs from separate buffers into <paramref name="dst"/> at <paramref name="startC"/>.</summary>
    public static void MergeSorted(float[] srcA, int startA, int lenA, float[] srcB, int startB, int lenB, float[] dst, int startC)
    {
        int limA = startA + lenA;
        int limB = startB + lenB;
        int a = startA;
        int b = startB;
        int c = startC;
        while (a < limA && b < limB)
        {
            dst[c++] = srcA[a] < srcB[b] ? srcA[a++] : srcB[b++];
        }

        while (a < limA)
        {
            dst[c++] = srcA[a++];
        }

        while (b < limB)
        {
            dst[c++] = srcB[b++];
        }
    }

    /// <summary>
    /// One pass over all levels, bottom up, compacting every level that is over its capacity while the
    /// sketch as a whole is over its capacity (DataSketches <c>KllHelper.generalItemsCompress</c>). Used
    /// after a merge, when several levels may be over-full at once; may add levels on top.
    /// </summary>
    /// <param name="k">Sketch K.</param>
    /// <param name="m">Minimum level width.</param>
    /// <param name="numLevelsIn">Levels present in <paramref name="inLevels"/>.</param>
    /// <param name="items">Work buffer; level 0 may be unsorted, every other level must be sorted.</param>
    /// <param name="inLevels">Level boundaries of the input (modified; needs room for two extra entries past the final top).</param>
    /// <param name="outLevels">Receives the level boundaries of the output, starting at 0.</param>
    /// <param name="isLevelZeroSorted">Whether level 0 is already sorted.</param>
    /// <param name="random">Source of the compaction offsets.</param>
    public static CompressResult GeneralCompress(int k, int m, int numLevelsIn, float[] items, int[] inLevels, int[] outLevels,
        bool isLevelZeroSorted, Random random)
    {
        int currentNumLevels = numLevelsIn;
        int currentItemCount = inLevels[numLevelsIn] - inLevels[0];
        int targetItemCount = KllCapacity.TotalCapacity(k, currentNumLevels, m);
        outLevels[0] = 0;
        int level = 0;
        bool done = false;
        while (!done)
        {
            // Treat the space above the current top as an empty level; it only becomes real if we compact into it.
            if (level == currentNumLevels - 1)
            {
                inLevels[level + 2] = inLevels[level + 1];
            }

            int rawBeg = inLevels[level];
            int rawLim = inLevels[level + 1];
            int rawPop = rawLim - rawBeg;

            if (currentItemCount < targetItemCount || rawPop < KllCapacity.LevelCapacity(k, currentNumLevels, level, m))
            {
                // Move the level down as it is. The output never lies above the input, so a forward copy is safe.
                Array.Copy(items, rawBeg, items, outLevels[level], rawPop);
                outLevels[level + 1] = outLevels[level] + rawPop;
            }
            else
            {
                int popAbove = inLevels[level + 2] - rawLim;
                bool oddPop = (rawPop & 1) == 1;
                int adjBeg = oddPop ? rawBeg + 1 : rawBeg;
                int adjPop = oddPop ? rawPop - 1 : rawPop;
                int halfAdjPop = adjPop / 2;

                // An odd item out stays at this level.
                if (oddPop)
                {
                    items[outLevels[level]] = items[rawBeg];
                    outLevels[level + 1] = outLevels[level] + 1;
                }
                else
                {
                    outLevels[level + 1] = outLevels[level];
                }

                if (level == 0 && !isLevelZeroSorted)
                {
                    Array.Sort(items, adjBeg, adjPop);
                }

                if (popAbove == 0)
                {
                    RandomlyHalveUp(items, adjBeg, adjPop, random);
                }
                else
                {
                    RandomlyHalveDown(items, adjBeg, adjPop, random);
                    MergeSortedInPlace(items, adjBeg, halfAdjPop, rawLim, popAbove, adjBeg + halfAdjPop);
                }

                currentItemCount -= halfAdjPop;
                inLevels[level + 1] -= halfAdjPop;

                // Compacting the old top level creates a new level, which also buys capacity at the bottom.
                if (level == currentNumLevels - 1)
                {
                    currentNumLevels++;
                    targetItemCount += KllCapacity.LevelCapacity(k, currentNumLevels, 0, m);
                }
            }

            if (level == currentNumLevels - 1)
            {
                done = true;
            }

            level++;
        }

        if (outLevels[currentNumLevels] - outLevels[0] != currentItemCount)
        {
            throw new InvalidOperationException("KLL general compress lost track of its items; this is a bug in EdgeAgent.Sketches");
        }

        return new CompressResult(currentNumLevels, targetItemCount, currentItemCount);
    }
}
