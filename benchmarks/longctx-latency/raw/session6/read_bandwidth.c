#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <omp.h>
#include <immintrin.h>
double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(int argc,char**argv){
  size_t mb=atoi(argv[1]); size_t n=mb*1024*1024/4; float*a=aligned_alloc(64,n*4);
  for(size_t i=0;i<n;i++)a[i]=i*1e-9f;
  for(int th=1;th<=2;th++){ double best=1e9; float s=0;
   for(int r=0;r<20;r++){ double t0=now(); float tot=0;
    #pragma omp parallel for num_threads(th) reduction(+:tot)
    for(size_t c=0;c<n;c+=16){ __m512 v=_mm512_load_ps(a+c); tot+=_mm512_reduce_add_ps(v);} 
    double t=now()-t0; if(t<best)best=t; s+=tot;}
   printf("%zu MB threads %d read %.1f GB/s (%g)\n",mb,th,n*4/best/1e9,s);}
}
